package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/ecc-bpf/ecc/deploy"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// pushExample builds examples/NAME with ecc build and pushes it to reg as
// REPO:v1 with ecc push; it returns the reference.
func pushExample(t *testing.T, e *env, host, name string) string {
	t.Helper()
	testenv.BPFBuild(t)
	out := t.TempDir()
	args := []string{"build", "-o", out, repo("examples", name, name+".bpf.c")}
	if hdr := repo("examples", name, name+".h"); fileExists(hdr) {
		args = append(args, hdr)
	}
	e.ok("", eccBin, args...)
	ref := host + "/probes/" + name + ":v1"
	e.ok("", eccBin, "push", out, ref)
	return ref
}

// daemonSet decodes ecc deploy's output strictly (unknown or duplicate
// fields fail) and returns its DaemonSet.
func daemonSet(t *testing.T, out string) *appsv1.DaemonSet {
	t.Helper()
	var ds *appsv1.DaemonSet
	for _, doc := range strings.Split(out, "\n---\n") {
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("%v\n%s", err, doc)
		}
		var tm struct{ Kind string }
		json.Unmarshal(j, &tm)
		if tm.Kind != "DaemonSet" {
			continue
		}
		ds = &appsv1.DaemonSet{}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.DisallowUnknownFields()
		if err := dec.Decode(ds); err != nil {
			t.Fatalf("DaemonSet: %v\n%s", err, doc)
		}
	}
	if ds == nil {
		t.Fatalf("no DaemonSet in ecc deploy's output:\n%s", out)
	}
	return ds
}

// ecc deploy REF reads the package pushed to a registry and prints a
// DaemonSet whose container runs ecli run on REF with CAP_BPF, exposing
// the metrics port.
func TestDeploy(t *testing.T) {
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	e := newEnv(t)
	ref := pushExample(t, e, reg.Host, "execsnoop")
	out := e.ok("", eccBin, "deploy", "--namespace", "probes", "--node-selector", "kubernetes.io/arch=amd64", ref)
	ds := daemonSet(t, out)
	if ds.Name != "execsnoop" || ds.Namespace != "probes" || ds.Spec.Template.Spec.NodeSelector["kubernetes.io/arch"] != "amd64" {
		t.Errorf("metadata %+v, node selector %v", ds.ObjectMeta, ds.Spec.Template.Spec.NodeSelector)
	}
	c := ds.Spec.Template.Spec.Containers[0]
	if !strings.HasPrefix(c.Image, "ghcr.io/ecc-bpf/ecli:") {
		t.Errorf("image %q", c.Image)
	}
	cmd := append(slices.Clone(c.Command), c.Args...)
	if len(cmd) < 3 || filepath.Base(cmd[0]) != "ecli" || cmd[1] != "run" || !slices.Contains(cmd, ref) || !slices.Contains(cmd, "--pull=always") {
		t.Errorf("the container runs %q, not ecli run %s", cmd, ref)
	}
	if !slices.Contains(c.SecurityContext.Capabilities.Add, "BPF") || slices.Contains(c.SecurityContext.Capabilities.Add, "NET_ADMIN") {
		t.Errorf("capabilities %v", c.SecurityContext.Capabilities.Add)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9090 {
		t.Errorf("ports %+v", c.Ports)
	}
	if ds.Spec.Template.Spec.HostPID || ds.Spec.Template.Spec.HostNetwork {
		t.Errorf("a tracepoint package shares the node's PIDs or network")
	}

	// Words after -- are the program's flags, after REF.
	args := daemonSet(t, e.ok("", eccBin, "deploy", ref, "--", "--pid", "1")).Spec.Template.Spec.Containers[0].Args
	if !slices.Equal(args[len(args)-3:], []string{ref, "--pid", "1"}) {
		t.Errorf("program flags: args %q", args)
	}

	// --format json: one v1 List with the same DaemonSet.
	js := e.ok("", eccBin, "deploy", "--format", "json", "--namespace", "probes", "--node-selector", "kubernetes.io/arch=amd64", ref)
	var list struct {
		Kind  string
		Items []json.RawMessage
	}
	if err := json.Unmarshal([]byte(js), &list); err != nil || list.Kind != "List" || len(list.Items) != 1 {
		t.Fatalf("--format json: %v\n%s", err, js)
	}
	y, _ := yaml.JSONToYAML(list.Items[0])
	if got := daemonSet(t, string(y)); !slices.Equal(got.Spec.Template.Spec.Containers[0].Args, c.Args) {
		t.Errorf("--format json args %q, YAML's %q", got.Spec.Template.Spec.Containers[0].Args, c.Args)
	}

	// Usage errors: one line naming the flag, status 2, nothing on stdout.
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--name", "Bad_Name"}, "--name"},
		{[]string{"--namespace", "a/b"}, "--namespace"},
		{[]string{"--node-selector", "novalue"}, "--node-selector"},
		{[]string{"--node-selector", "zone=a b"}, "--node-selector"},
		{[]string{"--metrics-port", "0x"}, "--metrics-port"},
	} {
		stdout, stderr, status := e.run("", eccBin, append(append([]string{"deploy"}, c.args...), ref)...)
		if status != 2 || stdout != "" || !strings.Contains(stderr, c.flag) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Errorf("ecc deploy %s: status %d, stdout %q, stderr %q", strings.Join(c.args, " "), status, stdout, stderr)
		}
	}
	if _, stderr, status := e.run("", eccBin, "deploy", repo("examples", "execsnoop")); status != 2 || !strings.Contains(stderr, "ecc push") {
		t.Errorf("ecc deploy FOLDER: status %d, %s", status, stderr)
	}
}

// The container's command line, run on this machine with only the
// capabilities the DaemonSet grants (setpriv drops the rest from the
// bounding set, as the container runtime does), pulls REF from the
// registry and traces execs: the capability table holds on a real kernel.
// An XDP package is refused without the CAP_NET_ADMIN it is granted.
func TestDeployCapabilitiesSuffice(t *testing.T) {
	testenv.Kernel(t)
	setpriv := testenv.Tool(t, "setpriv")
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	e := newEnv(t)

	// run runs the container's command line with only caps, its
	// environment's and arguments' /host standing for hostRoot (the node's
	// root, as a hostPath volume mounts it) when that is not "".
	// etc, when not "", stands for /etc/ecc, the ConfigMap's mount.
	run := func(t *testing.T, ds *appsv1.DaemonSet, caps []corev1.Capability, hostRoot, etc string) (*ecliRun, []string) {
		c := ds.Spec.Template.Spec.Containers[0]
		keep := "-all"
		for _, cp := range caps {
			keep += ",+" + strings.ToLower(string(cp))
		}
		host := func(s string) string {
			if hostRoot == "" {
				return s
			}
			return strings.ReplaceAll(s, deploy.HostRoot+"/", hostRoot+"/")
		}
		var args []string
		for _, a := range c.Args {
			if etc != "" {
				a = strings.ReplaceAll(a, deploy.ConfigDir+"/", etc+"/")
			}
			args = append(args, host(a))
		}
		var podEnv []string
		for _, v := range c.Env {
			if v.Name == "PATH" || v.Name == "LD_LIBRARY_PATH" {
				podEnv = append(podEnv, v.Name+"="+host(v.Value))
			}
		}
		line := append([]string{setpriv, "--bounding-set", keep, "--inh-caps", "-all", "--", ecliBin}, args...)
		if hostRoot != "" {
			// The node's root bind-mounted read-only, as the kubelet
			// mounts a hostPath, in a mount namespace of ecli's own.
			// Absolute paths: PATH is the pod's, under the mount.
			mount := testenv.Tool(t, "mount")
			line = append([]string{testenv.Tool(t, "unshare"), "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
				mount + ` --rbind / "$0" && ` + mount + ` -o remount,bind,ro "$0" && exec "$@"`, hostRoot}, line...)
		}
		cmd := exec.Command(line[0], line[1:]...)
		cmd.Env = append(os.Environ(), append(append(e.vars(), podEnv...), "ECLI_TRACE=1")...)
		r := &ecliRun{cmd: cmd, out: &testenv.SyncBuffer{}, errs: &testenv.SyncBuffer{}, done: make(chan struct{})}
		cmd.Stdout, cmd.Stderr = r.out, r.errs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { r.err = cmd.Wait(); close(r.done) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-r.done })
		return r, args
	}
	attached := func(r *ecliRun) bool {
		deadline := time.After(30 * time.Second)
		for !strings.Contains(r.errs.String(), "ecli: trace: outputs") {
			select {
			case <-r.done:
				return false
			case <-deadline:
				return false
			case <-time.After(20 * time.Millisecond):
			}
		}
		return true
	}

	// Signed with a key the DaemonSet's ConfigMap ships: the pod's
	// command line verifies REF and traces execs; with another key it
	// refuses REF before loading anything.
	t.Run("tracepoint", func(t *testing.T) {
		ref := pushExample(t, e, reg.Host, "execsnoop")
		keys := t.TempDir()
		key, pub := opensslPair(t, keys, "org", "-algorithm", "ed25519")
		_, otherPub := opensslPair(t, keys, "other", "-algorithm", "ed25519")
		e.ok("", eccBin, "sign", "--key", key, ref)

		port := freePort(t)
		out := e.ok("", eccBin, "deploy", "--verify-key", pub, "--metrics-port", strconv.Itoa(port), ref)
		ds := daemonSet(t, out)
		caps := ds.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Add
		r, args := run(t, ds, caps, "", configFiles(t, out))
		if !attached(r) {
			t.Fatalf("ecli with %v did not attach: %v\n%s", caps, r.err, r.errs.String())
		}
		bin := namedTrue(t, "ecc-deploy-probe")
		r.waitFor(t, "an exec event", func() { exec.Command(bin).Run() }, func(m map[string]any) bool {
			return m["comm"] == "ecc-deploy-prob" // comm is 15 characters
		})
		// The readiness probe's path and the scraped page, on the port
		// the DaemonSet names.
		if !slices.Contains(args, "--metrics") {
			t.Fatalf("the pod's command line %v serves no metrics", args)
		}
		for _, path := range []string{"/healthz", "/metrics"} {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || path == "/metrics" && !strings.Contains(string(body), `ecli_events_total{buffer="events"}`) {
				t.Errorf("%s: %d\n%.2000s", path, resp.StatusCode, body)
			}
		}
		r.stop(t)

		// A policy naming the key beside it: shipped with the key.
		policy := filepath.Join(keys, "policy.json")
		os.WriteFile(policy, []byte(`{"version": 1, "rules": [{"match": "`+reg.Host+`/**", "keys": ["org.pub"]}]}`), 0o644)
		out = e.ok("", eccBin, "deploy", "--policy", policy, "--metrics-port", strconv.Itoa(port), ref)
		r, _ = run(t, daemonSet(t, out), caps, "", configFiles(t, out))
		if !attached(r) {
			t.Fatalf("ecli --policy did not run the signed package: %v\n%s", r.err, r.errs.String())
		}
		r.stop(t)

		out = e.ok("", eccBin, "deploy", "--verify-key", otherPub, "--metrics-port", strconv.Itoa(port), ref)
		r, _ = run(t, daemonSet(t, out), caps, "", configFiles(t, out))
		if attached(r) {
			t.Fatalf("ecli ran a package the key did not sign")
		}
		if !strings.Contains(r.errs.String(), "sign") {
			t.Errorf("refused without a word of signatures: %v\n%s", r.err, r.errs.String())
		}
	})

	// A uretprobe on the node's bash, through its root at /host: the
	// section's /bin/bash becomes --uprobe PROG=/host/bin/bash.
	t.Run("uprobe", func(t *testing.T) {
		ref := pushExample(t, e, reg.Host, "bashreadline")
		ds := daemonSet(t, e.ok("", eccBin, "deploy", "--metrics-port", strconv.Itoa(freePort(t)), ref))
		caps := ds.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Add
		if !ds.Spec.Template.Spec.HostPID || !slices.Contains(ds.Spec.Template.Spec.Containers[0].Args, "bash_readline_return=/host/bin/bash") {
			t.Fatalf("a uprobe package: hostPID %v, args %q", ds.Spec.Template.Spec.HostPID, ds.Spec.Template.Spec.Containers[0].Args)
		}
		// perf's uprobe PMU refuses CAP_BPF and CAP_PERFMON alone.
		without := slices.DeleteFunc(slices.Clone(caps), func(c corev1.Capability) bool { return c == "SYS_ADMIN" })
		r, _ := run(t, ds, without, t.TempDir(), "")
		if attached(r) {
			t.Fatalf("ecli attached a uprobe without CAP_SYS_ADMIN: the table grants more than needed")
		}
		if !strings.Contains(r.errs.String(), "CAP_SYS_ADMIN") {
			t.Errorf("without CAP_SYS_ADMIN: %v\n%s", r.err, r.errs.String())
		}
		r, _ = run(t, ds, caps, t.TempDir(), "")
		if !attached(r) {
			t.Fatalf("ecli with %v did not attach: %v\n%s", caps, r.err, r.errs.String())
		}
		if !strings.Contains(r.errs.String(), "/bin/bash:readline") {
			t.Logf("stderr: %s", r.errs.String())
		}
		bash, master := startBash(t)
		line := "echo ecc-deploy-readline-" + strconv.Itoa(os.Getpid())
		time.Sleep(300 * time.Millisecond)
		master.Write([]byte(line + "\n"))
		ev := r.waitFor(t, "the typed line", nil, func(m map[string]any) bool { return m["line"] == line })
		if num(ev["pid"]) != int64(bash.Process.Pid) {
			t.Errorf("pid %v, want bash's %d", ev["pid"], bash.Process.Pid)
		}
		master.Write([]byte("exit\n"))
		r.stop(t)
	})

	t.Run("xdp", func(t *testing.T) {
		testenv.Exclusive(t, "xdp-lo")
		ref := pushExample(t, e, reg.Host, "xdpcount")
		ds := daemonSet(t, e.ok("", eccBin, "deploy", "--ifname", "lo", "--metrics-port", strconv.Itoa(freePort(t)), ref))
		caps := ds.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Add
		if !slices.Contains(caps, "NET_ADMIN") || !ds.Spec.Template.Spec.HostNetwork {
			t.Fatalf("an XDP package: capabilities %v, hostNetwork %v", caps, ds.Spec.Template.Spec.HostNetwork)
		}
		without := slices.DeleteFunc(slices.Clone(caps), func(c corev1.Capability) bool { return c == "NET_ADMIN" })
		r, _ := run(t, ds, without, "", "")
		if attached(r) {
			t.Fatalf("ecli attached XDP without CAP_NET_ADMIN")
		}
		if !strings.Contains(r.errs.String(), "CAP_NET_ADMIN") {
			t.Errorf("without CAP_NET_ADMIN: %v\n%s", r.err, r.errs.String())
		}
		r, _ = run(t, ds, caps, "", "")
		if !attached(r) {
			t.Fatalf("ecli with %v did not attach: %v\n%s", caps, r.err, r.errs.String())
		}
		r.stop(t)
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// configFiles writes the ConfigMap of ecc deploy's output as the kubelet
// mounts it (its items at their paths) into a folder, and returns it ("":
// no ConfigMap).
func configFiles(t *testing.T, out string) string {
	t.Helper()
	var cm *corev1.ConfigMap
	for _, doc := range strings.Split(out, "\n---\n") {
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var tm struct{ Kind string }
		json.Unmarshal(j, &tm)
		if tm.Kind == "ConfigMap" {
			cm = &corev1.ConfigMap{}
			if err := json.Unmarshal(j, cm); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cm == nil {
		return ""
	}
	ds := daemonSet(t, out)
	dir := t.TempDir()
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.ConfigMap == nil || v.ConfigMap.Name != cm.Name {
			continue
		}
		for _, it := range v.ConfigMap.Items {
			p := filepath.Join(dir, it.Path)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(cm.Data[it.Key]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}
