package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/internal/regserver"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
)

// The whole path on Debian's docker-registry with TLS and htpasswd: login,
// push a real example, read it back with skopeo, the oras CLI and ecc pull,
// and run it with ecli run REF in the kernel, then offline from the store.
func TestRegistryEndToEnd(t *testing.T) {
	testenv.BPFBuild(t)
	testenv.Kernel(t)
	ecli := ecliBin
	reg := regserver.Start(t)
	e := newEnv(t)
	out := t.TempDir()
	e.ok("", eccBin, "build", "-o", out, "../../examples/execsnoop/execsnoop.bpf.c", "../../examples/execsnoop/execsnoop.h")
	built, err := packager.ReadFile(filepath.Join(out, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Host + "/probes/execsnoop:v1"
	tlsFlags := []string{"--ca-file", reg.CAFile}

	// Login: a wrong password is refused and stores nothing.
	_, errs, status := e.run("not-the-password\n", eccBin, append([]string{"login", reg.Host, "-u", reg.User, "--password-stdin"}, tlsFlags...)...)
	if status != 1 || !strings.Contains(errs, "wrong username or password") || strings.Contains(errs, "not-the-password") {
		t.Fatalf("wrong password: status %d: %s", status, errs)
	}
	if _, err := os.Stat(filepath.Join(e.dockerConfig, "config.json")); err == nil {
		cfg, _ := os.ReadFile(filepath.Join(e.dockerConfig, "config.json"))
		if strings.Contains(string(cfg), reg.Host) {
			t.Fatal("a failed login stored credentials")
		}
	}
	e.ok(reg.Password+"\n", eccBin, append([]string{"login", reg.Host, "-u", reg.User, "--password-stdin"}, tlsFlags...)...)

	// Push, twice: the second uploads no blob and gives the same digest.
	pushOut := e.ok("", eccBin, append([]string{"push", "--format", "json", out, ref}, tlsFlags...)...)
	var pushed struct {
		Reference, Digest string
		Size              int64
		Uploaded          int
	}
	if err := json.Unmarshal([]byte(pushOut), &pushed); err != nil {
		t.Fatalf("push --format json: %v\n%s", err, pushOut)
	}
	if pushed.Reference != ref || !strings.HasPrefix(pushed.Digest, "sha256:") || pushed.Size == 0 || pushed.Uploaded == 0 {
		t.Fatalf("push result %+v", pushed)
	}
	again := e.ok("", eccBin, append([]string{"push", "--format", "json", out, ref}, tlsFlags...)...)
	var pushed2 struct {
		Digest   string
		Uploaded int
	}
	json.Unmarshal([]byte(again), &pushed2)
	if pushed2.Digest != pushed.Digest || pushed2.Uploaded != 0 {
		t.Errorf("re-push: %s", again)
	}

	// skopeo reads the index.
	if skopeo, err := exec.LookPath("skopeo"); err == nil {
		raw := e.ok("", skopeo, "inspect", "--raw", "--cert-dir", reg.CertDir, "--creds", reg.User+":"+reg.Password, "docker://"+ref)
		var idx struct {
			MediaType    string
			ArtifactType string
			Manifests    []struct {
				Platform struct{ Architecture, OS string }
			}
		}
		if err := json.Unmarshal([]byte(raw), &idx); err != nil || idx.ArtifactType != packager.ArtifactType || len(idx.Manifests) != 1 || idx.Manifests[0].Platform.OS != "linux" {
			t.Errorf("skopeo inspect --raw: %v\n%s", err, raw)
		}
	} else {
		testenv.Missing(t, "skopeo is not installed (make test-deps)")
	}

	// The oras CLI pulls files named by the layer titles.
	if oras := orasCLI(t); oras != "" {
		dir := t.TempDir()
		e.ok(reg.Password, oras, "pull", "--ca-file", reg.CAFile, "-u", reg.User, "--password-stdin", "--platform", "linux/amd64", "-o", dir, ref)
		got, err := os.ReadFile(filepath.Join(dir, "execsnoop.bpf.o"))
		if err != nil || !bytes.Equal(got, built.Object) {
			t.Errorf("oras pull: %v (object equal: %v)", err, bytes.Equal(got, built.Object))
		}
	}

	// ecc pull writes the package back.
	pulled := t.TempDir()
	e.ok("", eccBin, append([]string{"pull", "-o", pulled, ref}, tlsFlags...)...)
	p, err := packager.ReadFile(filepath.Join(pulled, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Object, built.Object) || p.Meta.BpfSkel.Progs[0].Attach != built.Meta.BpfSkel.Progs[0].Attach {
		t.Fatal("pulled package differs from the built one")
	}
	if images := e.ok("", eccBin, "images"); !strings.Contains(images, reg.Host+"/probes/execsnoop") || !strings.Contains(images, "amd64") {
		t.Errorf("ecc images:\n%s", images)
	}

	// ecli run REF, in the kernel.
	runAndSee := func(args ...string) {
		t.Helper()
		cmd := exec.Command(ecli, args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+e.dockerConfig, "ECC_STORE_DIR="+e.store)
		var stdout, stderr testenv.SyncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGINT)
			cmd.Wait()
		}()
		mark := "registry-run-" + strconv.Itoa(time.Now().Nanosecond())
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			exec.Command("/bin/true", mark).Run()
			if strings.Contains(stdout.String(), mark) {
				var ev map[string]any
				for _, line := range strings.Split(stdout.String(), "\n") {
					if strings.Contains(line, mark) && json.Unmarshal([]byte(line), &ev) == nil {
						if ev["filename"] != "/bin/true" {
							t.Errorf("event %v", ev)
						}
						return
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("ecli %s: no event\nstdout: %s\nstderr: %s", strings.Join(args, " "), stdout.String(), stderr.String())
	}
	e.ok("", eccBin, "images", "rm", ref) // make ecli pull it itself
	runAndSee(append([]string{"run", "-j"}, append(tlsFlags, ref)...)...)
	// Offline: the registry is gone, the store has it.
	reg.Stop()
	runAndSee("run", "-j", "--pull=never", ref)
	_, errs, status = e.run("", ecli, "run", "--pull=never", reg.Host+"/probes/other:v1")
	if status != 1 || !strings.Contains(errs, "not in the local store") {
		t.Errorf("--pull=never of an absent ref: %d %s", status, errs)
	}
}

// orasCLI finds the oras CLI that make test-deps installs.
func orasCLI(t *testing.T) string { return testDepTool(t, "oras") }

// testDepTool finds a CLI that make test-deps installs into .tools/bin,
// else on PATH.
func testDepTool(t *testing.T, name string) string {
	waitBuilding(t, name)
	if abs, err := filepath.Abs("../../.tools/bin/" + name); err == nil {
		if _, err := os.Stat(abs); err == nil {
			return abs
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	testenv.Missing(t, "the %s CLI is not installed (make test-deps installs it)", name)
	return ""
}

// waitBuilding waits while make test-deps still builds the CLI name in the
// background (scripts/cosign.sh: .tools/NAME.building holds the builder's
// pid), at most 20 minutes; a build that failed leaves no binary, and its
// log is shown.
func waitBuilding(t *testing.T, name string) {
	t.Helper()
	marker, _ := filepath.Abs("../../.tools/" + name + ".building")
	logged := false
	for deadline := time.Now().Add(20 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		pid, err := os.ReadFile(marker)
		if err != nil {
			break // not being built (any more)
		}
		if p, err := strconv.Atoi(strings.TrimSpace(string(pid))); err != nil || syscall.Kill(p, 0) != nil {
			break // its builder is gone
		}
		if !logged {
			t.Logf("waiting for the %s CLI that make test-deps is building", name)
			logged = true
		}
	}
	bin, _ := filepath.Abs("../../.tools/bin/" + name)
	if _, err := os.Stat(bin); err != nil {
		if log, err := os.ReadFile(filepath.Join(filepath.Dir(marker), name+".log")); err == nil {
			t.Logf("%s's build log ends:\n%s", name, tail(string(log), 2000))
		}
	}
}

// Eight ecc processes push and pull at once through one local store.
func TestConcurrentStoreUse(t *testing.T) {
	testenv.BPFBuild(t)
	e := newEnv(t)
	out := t.TempDir()
	e.ok("", eccBin, "build", "-o", out, "../../examples/runqlat/runqlat.bpf.c")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Separate layouts (oci:DIR is not a shared store); one local store.
			ref := fmt.Sprintf("oci:%s:p%d", filepath.Join(out, "layouts", strconv.Itoa(i)), i)
			if _, se, st := e.run("", eccBin, "push", out, ref); st != 0 {
				errs <- fmt.Errorf("push %d: %s", i, se)
				return
			}
			if _, se, st := e.run("", eccBin, "pull", "-o", filepath.Join(out, "pull", strconv.Itoa(i)), ref); st != 0 {
				errs <- fmt.Errorf("pull %d: %s", i, se)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var imgs []struct{ Reference string }
	if err := json.Unmarshal([]byte(e.ok("", eccBin, "images", "--format", "json")), &imgs); err != nil || len(imgs) != 8 {
		t.Fatalf("store lists %d images (%v): %+v", len(imgs), err, imgs)
	}
}

// A Wasm package travels as a layer beside its object, and in eunomia's
// shape with --eunomia; ecli run REF runs the Wasm program in both cases.
func TestWasmDistribution(t *testing.T) {
	testenv.BPFBuild(t)
	testenv.Kernel(t)
	ecli := ecliBin
	e := newEnv(t)
	out := t.TempDir()
	e.ok("", eccBin, "build", "-o", out, "--wasm", "../../examples/wasm-execsnoop-c")
	if _, err := os.Stat(filepath.Join(out, "execsnoop.wasm")); err != nil {
		t.Fatal(err)
	}
	layout := t.TempDir()
	for _, c := range []struct{ tag, flag string }{{"ecc", ""}, {"eunomia", "--eunomia"}} {
		ref := "oci:" + layout + ":" + c.tag
		args := []string{"push", out, ref}
		if c.flag != "" {
			args = []string{"push", c.flag, out, ref}
		}
		e.ok("", eccBin, args...)
		cmd := exec.Command(ecli, "run", ref)
		cmd.Env = append(os.Environ(), "ECC_STORE_DIR="+e.store)
		var stdout, stderr testenv.SyncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		bin := namedTrue(t, "ecc-wasm-"+c.tag)
		seen := false
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !seen; time.Sleep(200 * time.Millisecond) {
			exec.Command(bin).Run()
			seen = strings.Contains(stdout.String(), "file="+bin)
		}
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		if !seen {
			t.Fatalf("%s: the Wasm guest printed no event for %s\nstdout: %s\nstderr: %s", c.tag, bin, stdout.String(), stderr.String())
		}
		if err != nil {
			t.Errorf("%s: ecli run exited with %v: %s", c.tag, err, stderr.String())
		}
	}
	// The eunomia-shaped artifact: one manifest, a Wasm config, one Wasm layer.
	idx, _ := os.ReadFile(filepath.Join(layout, "index.json"))
	if !strings.Contains(string(idx), "application/vnd.oci.image.manifest.v1+json") {
		t.Errorf("index.json: %s", idx)
	}
}
