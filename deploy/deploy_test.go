package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// examples are the packages the tests deploy, built once from examples/
// with real clang: a tracepoint, an XDP and a uretprobe program.
var (
	buildOnce sync.Once
	built     map[string]*packager.Package
	buildErr  error
)

func example(t testing.TB, name string) *packager.Package {
	t.Helper()
	testenv.BPFBuild(t)
	buildOnce.Do(func() {
		built = map[string]*packager.Package{}
		dir, err := os.MkdirTemp("", "ecc-deploy-test-")
		if err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(dir)
		for _, n := range []string{"execsnoop", "xdpcount", "bashreadline"} {
			src := filepath.Join("..", "examples", n, n+".bpf.c")
			o := &compiler.Options{Source: src, OutDir: filepath.Join(dir, n), CacheDir: filepath.Join(dir, "cache"), Stderr: &bytes.Buffer{}}
			if h := filepath.Join("..", "examples", n, n+".h"); fileExists(h) {
				o.ExportHeader = h
			}
			res, err := compiler.Build(context.Background(), o)
			if err != nil {
				buildErr = err
				return
			}
			p, err := packager.ReadFile(res.Outputs[0].Package)
			if err != nil {
				buildErr = err
				return
			}
			built[n] = p
		}
	})
	if buildErr != nil {
		t.Fatalf("build examples: %v", buildErr)
	}
	return built[name]
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// decode reads a YAML stream the way the API server would: every document
// strictly (no duplicate or unknown fields) into its typed object.
func decode(t *testing.T, y []byte) (cm *corev1.ConfigMap, ds *appsv1.DaemonSet, pm *monitoringv1.PodMonitor) {
	t.Helper()
	for i, doc := range strings.Split(string(y), "\n---\n") {
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		var tm struct{ APIVersion, Kind string }
		if err := json.Unmarshal(j, &tm); err != nil {
			t.Fatal(err)
		}
		var into any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 ConfigMap":
			cm = &corev1.ConfigMap{}
			into = cm
		case "apps/v1 DaemonSet":
			ds = &appsv1.DaemonSet{}
			into = ds
		case "monitoring.coreos.com/v1 PodMonitor":
			pm = &monitoringv1.PodMonitor{}
			into = pm
		default:
			t.Fatalf("document %d is a %s %s", i, tm.APIVersion, tm.Kind)
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.DisallowUnknownFields()
		if err := dec.Decode(into); err != nil {
			t.Fatalf("document %d (%s): %v", i, tm.Kind, err)
		}
	}
	if ds == nil {
		t.Fatalf("no DaemonSet in\n%s", y)
	}
	return cm, ds, pm
}

func generate(t *testing.T, p *packager.Package, o *Options) []byte {
	t.Helper()
	m, err := Generate(p, o)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := m.WriteYAML(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The manifests of three packages are as testdata/NAME.golden has them,
// and decode strictly into their types.
func TestGolden(t *testing.T) {
	cases := []struct {
		pkg string
		o   Options
	}{
		{"execsnoop", Options{Ref: "ghcr.io/org/probes/execsnoop:v1", Version: "v1.2.3",
			VerifyKeys: []string{"testdata/org.pub"}, NodeSelector: map[string]string{"kubernetes.io/os": "linux"}}},
		{"xdpcount", Options{Ref: "ghcr.io/org/xdp_count@sha256:" + strings.Repeat("ab", 32), Version: "v1.2.3",
			Namespace: "probes", IfName: "eth0", PodMonitor: true, MetricsPort: 9464, PullSecret: "regcred", Policy: "testdata/policy.json"}},
		{"bashreadline", Options{Ref: "registry.example:5000/bashreadline", Image: "registry.example:5000/ecli:dev", ProgramArgs: []string{"--verbose-flag", "1"}}},
	}
	for _, c := range cases {
		t.Run(c.pkg, func(t *testing.T) {
			got := generate(t, example(t, c.pkg), &c.o)
			decode(t, got)
			golden := filepath.Join("testdata", c.pkg+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./deploy -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("manifests differ from %s (go test ./deploy -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

func container(ds *appsv1.DaemonSet) *corev1.Container { return &ds.Spec.Template.Spec.Containers[0] }

func caps(ds *appsv1.DaemonSet) []corev1.Capability {
	return container(ds).SecurityContext.Capabilities.Add
}

func mounted(ds *appsv1.DaemonSet, at string) *corev1.VolumeMount {
	for i, m := range container(ds).VolumeMounts {
		if m.MountPath == at {
			return &container(ds).VolumeMounts[i]
		}
	}
	return nil
}

// Capabilities, host namespaces and mounts follow the programs' types.
func TestCapabilitiesFollowPrograms(t *testing.T) {
	for _, c := range []struct {
		pkg                string
		o                  Options
		want               []corev1.Capability
		hostPID, hostNet   bool
		hostRoot, netAdmin bool
	}{
		{pkg: "execsnoop", want: []corev1.Capability{"BPF", "PERFMON", "SYS_RESOURCE"}},
		{pkg: "xdpcount", o: Options{IfName: "eth0"}, want: []corev1.Capability{"BPF", "PERFMON", "SYS_RESOURCE", "NET_ADMIN"}, hostNet: true},
		{pkg: "bashreadline", want: []corev1.Capability{"BPF", "PERFMON", "SYS_RESOURCE", "SYS_ADMIN"}, hostPID: true, hostRoot: true},
		{pkg: "execsnoop", o: Options{AddCaps: []string{"cap_sys_admin"}, HostPID: true}, want: []corev1.Capability{"BPF", "PERFMON", "SYS_RESOURCE", "SYS_ADMIN"}, hostPID: true},
	} {
		o := c.o
		o.Ref = "ghcr.io/org/" + c.pkg + ":v1"
		_, ds, _ := decode(t, generate(t, example(t, c.pkg), &o))
		sc := container(ds).SecurityContext
		if !slices.Equal(caps(ds), c.want) {
			t.Errorf("%s: capabilities %v, want %v", c.pkg, caps(ds), c.want)
		}
		if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || sc.Privileged == nil || *sc.Privileged {
			t.Errorf("%s: drop %v, privileged %v", c.pkg, sc.Capabilities.Drop, sc.Privileged)
		}
		// Kubernetes refuses allowPrivilegeEscalation: false with CAP_SYS_ADMIN.
		if want := slices.Contains(c.want, "SYS_ADMIN"); *sc.AllowPrivilegeEscalation != want {
			t.Errorf("%s: allowPrivilegeEscalation %v", c.pkg, *sc.AllowPrivilegeEscalation)
		}
		spec := ds.Spec.Template.Spec
		if spec.HostPID != c.hostPID || spec.HostNetwork != c.hostNet {
			t.Errorf("%s: hostPID %v hostNetwork %v, want %v %v", c.pkg, spec.HostPID, spec.HostNetwork, c.hostPID, c.hostNet)
		}
		if got := mounted(ds, HostRoot) != nil; got != c.hostRoot {
			t.Errorf("%s: /host mounted: %v", c.pkg, got)
		}
		for _, at := range []string{"/sys/kernel/tracing", "/sys/fs/bpf", "/sys/fs/cgroup"} {
			if mounted(ds, at) == nil {
				t.Errorf("%s: %s not mounted", c.pkg, at)
			}
		}
		if m := mounted(ds, "/sys/fs/cgroup"); m != nil && !m.ReadOnly {
			t.Errorf("%s: the cgroup root is mounted read-write", c.pkg)
		}
	}
	// The uprobe's binary is the node's, under /host.
	_, ds, _ := decode(t, generate(t, example(t, "bashreadline"), &Options{Ref: "ghcr.io/org/bashreadline:v1"}))
	args := strings.Join(container(ds).Args, " ")
	if !strings.Contains(args, "--uprobe bash_readline_return=/host/bin/bash ghcr.io/org/bashreadline:v1") {
		t.Errorf("args %q do not point the uprobe at /host/bin/bash", args)
	}
}

// The container runs ecli run on REF with the metrics port exposed,
// probed and annotated for Prometheus.
func TestDaemonSet(t *testing.T) {
	ref := "ghcr.io/org/probes/exec_snoop:v1"
	_, ds, _ := decode(t, generate(t, example(t, "execsnoop"), &Options{Ref: ref, Version: "v0.4.0", MetricsPort: 9555}))
	c := container(ds)
	if ds.Name != "exec-snoop" || ds.Namespace != "default" || ds.Labels[LabelManagedBy] != "ecc" || ds.Labels[LabelName] != "exec-snoop" {
		t.Errorf("metadata %+v", ds.ObjectMeta)
	}
	if c.Image != "ghcr.io/ecc-bpf/ecli:v0.4.0" {
		t.Errorf("image %q", c.Image)
	}
	want := []string{"run", "--pull=always", "--metrics", ":9555", "--format", "json", ref}
	if !slices.Equal(c.Command, []string{"/usr/local/bin/ecli"}) || !slices.Equal(c.Args, want) {
		t.Errorf("command %q args %q, want %q", c.Command, c.Args, want)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9555 || c.ReadinessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Port.StrVal != c.Ports[0].Name {
		t.Errorf("ports %+v, readiness %+v", c.Ports, c.ReadinessProbe.HTTPGet)
	}
	a := ds.Spec.Template.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "9555" || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("annotations %v", a)
	}
	if sel := ds.Spec.Selector.MatchLabels; sel[LabelName] != "exec-snoop" || ds.Spec.Template.Labels[LabelName] != "exec-snoop" {
		t.Errorf("selector %v does not select the template's labels %v", sel, ds.Spec.Template.Labels)
	}
	r := c.Resources
	if r.Requests.Cpu().String() != CPURequest || r.Requests.Memory().String() != MemoryRequest || r.Limits.Memory().String() != MemoryLimit {
		t.Errorf("resources %+v", r)
	}
}

// Keys and the policy go into a ConfigMap mounted read-only, and ecli is
// told where; a policy's key files are shipped and renamed in it.
func TestKeysAndPolicy(t *testing.T) {
	o := &Options{Ref: "ghcr.io/org/execsnoop:v1", VerifyKeys: []string{"testdata/org.pub", "testdata/org.pub"}, Policy: "testdata/policy.json", PullSecret: "regcred"}
	cm, ds, _ := decode(t, generate(t, example(t, "execsnoop"), o))
	key, _ := os.ReadFile("testdata/org.pub")
	if cm == nil || cm.Name != "execsnoop-config" || cm.Data["org.pub"] != string(key) || cm.Data["org-2.pub"] != string(key) || cm.Data["org-3.pub"] != string(key) {
		t.Fatalf("ConfigMap %+v", cm)
	}
	var policy struct {
		Rules []struct {
			Keys []string
		}
	}
	if err := json.Unmarshal([]byte(cm.Data["policy.json"]), &policy); err != nil || !slices.Equal(policy.Rules[0].Keys, []string{"keys/org-3.pub"}) {
		t.Errorf("shipped policy %s (%v)", cm.Data["policy.json"], err)
	}
	args := strings.Join(container(ds).Args, " ")
	for _, want := range []string{"--verify-key /etc/ecc/keys/org.pub --verify-key /etc/ecc/keys/org-2.pub", "--policy /etc/ecc/policy.json"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	if m := mounted(ds, "/etc/ecc"); m == nil || !m.ReadOnly {
		t.Errorf("/etc/ecc mount %+v", m)
	}
	spec := ds.Spec.Template.Spec
	if len(spec.ImagePullSecrets) != 1 || spec.ImagePullSecrets[0].Name != "regcred" || mounted(ds, DockerConfigDir) == nil {
		t.Errorf("pull secret: %+v", spec.ImagePullSecrets)
	}
	if !slices.Contains(container(ds).Env, corev1.EnvVar{Name: "DOCKER_CONFIG", Value: DockerConfigDir}) {
		t.Errorf("env %+v lacks DOCKER_CONFIG", container(ds).Env)
	}

	// A private key is refused, naming the flag.
	priv := filepath.Join(t.TempDir(), "org.key")
	os.WriteFile(priv, []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"), 0o600)
	_, err := Generate(example(t, "execsnoop"), &Options{Ref: o.Ref, VerifyKeys: []string{priv}})
	var fe *FlagError
	if !errors.As(err, &fe) || fe.Flag != "--verify-key" || !strings.Contains(err.Error(), "never the private key") {
		t.Errorf("a private key: %v", err)
	}
}

// Options that Kubernetes would refuse are *FlagError naming the flag.
func TestFlagErrors(t *testing.T) {
	p := example(t, "execsnoop")
	for _, c := range []struct {
		o    Options
		flag string
	}{
		{Options{Name: "Exec_Snoop"}, "--name"},
		{Options{Namespace: "kube system"}, "--namespace"},
		{Options{NodeSelector: map[string]string{"bad key!": "x"}}, "--node-selector"},
		{Options{NodeSelector: map[string]string{"zone": "not a value"}}, "--node-selector"},
		{Options{MetricsPort: 70000}, "--metrics-port"},
		{Options{PullSecret: "Reg_Cred"}, "--pull-secret"},
		{Options{Policy: "testdata/none.json"}, "--policy"},
		{Options{AddCaps: []string{"sys admin"}}, "--add-cap"},
	} {
		c.o.Ref = "ghcr.io/org/execsnoop:v1"
		_, err := Generate(p, &c.o)
		var fe *FlagError
		if !errors.As(err, &fe) || fe.Flag != c.flag {
			t.Errorf("%+v: %v, want an error naming %s", c.o, err, c.flag)
		}
	}
	// XDP needs the nodes' interface.
	_, err := Generate(example(t, "xdpcount"), &Options{Ref: "ghcr.io/org/xdpcount:v1"})
	var fe *FlagError
	if !errors.As(err, &fe) || fe.Flag != "--ifname" {
		t.Errorf("XDP without --ifname: %v", err)
	}
	if _, err := Generate(&packager.Package{}, &Options{Ref: "ghcr.io/org/x:v1"}); err == nil {
		t.Error("a package without an object was deployed")
	}
}

func TestNameOf(t *testing.T) {
	for ref, want := range map[string]string{
		"ghcr.io/org/execsnoop:v1":                       "execsnoop",
		"ghcr.io/org/probes/Exec_Snoop:v1":               "exec-snoop",
		"127.0.0.1:5000/bashreadline":                    "bashreadline",
		"127.0.0.1:5000/a/xdp.count@sha256:" + "ab":      "xdp-count",
		"ghcr.io/org/__":                                 "",
		"ghcr.io/org/" + strings.Repeat("long", 20) + "": strings.Repeat("long", 14),
	} {
		if got := NameOf(ref); got != want {
			t.Errorf("NameOf(%q) = %q, want %q", ref, got, want)
		}
	}
	if DefaultImage("devel") != "ghcr.io/ecc-bpf/ecli:latest" || DefaultImage("v1.0.0") != "ghcr.io/ecc-bpf/ecli:v1.0.0" {
		t.Errorf("DefaultImage: %s, %s", DefaultImage("devel"), DefaultImage("v1.0.0"))
	}
}

func TestDefaultImage(t *testing.T) {
	for v, want := range map[string]string{
		"v1.0.0": "v1.0.0", "v1.2.0-rc.1": "v1.2.0-rc.1", "devel": "latest", "": "latest",
		"v0.0.0-20261205124700-94bbd5b1c2d3": "v0.0.0-20261205124700-94bbd5b1c2d3", "v1.0.0+dirty": "v1.0.0-dirty", "a b": "latest",
	} {
		if got := DefaultImage(v); got != ImageRepository+":"+want {
			t.Errorf("DefaultImage(%q) = %q, want tag %q", v, got, want)
		}
	}
}

// BenchmarkGenerate is ecc deploy's work after the package is read: the
// object's programs, the objects, the YAML.
func BenchmarkGenerate(b *testing.B) {
	p := example(b, "bashreadline")
	o := &Options{Ref: "ghcr.io/org/bashreadline:v1", PodMonitor: true, VerifyKeys: []string{"testdata/org.pub"}}
	for b.Loop() {
		m, err := Generate(p, o)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.WriteYAML(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
