package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/kimage"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/registrytest"
	"github.com/ecc-bpf/ecc/vm/kernel/kerneltest"
)

// ecc build --btfgen, then ecli run on a kernel without BTF of its own
// (--no-kernel-btf stands in for one): from the build folder, and from an
// OCI layout the package was pushed to (its BTF layer) and pulled from.
// A package with BTF for another kernel only fails in two lines: what is
// missing, and what to do.
func TestBTFGenKernelWithoutBTF(t *testing.T) {
	testenv.BPFBuild(t)
	testenv.Kernel(t)
	vmlinuz := testenv.DebianVmlinuz(t)
	host, err := kimage.HostRelease()
	if err != nil {
		t.Fatal(err)
	}
	other := testenv.DebianRelease(vmlinuz)
	src, hdr := repo("examples", "execsnoop", "execsnoop.bpf.c"), repo("examples", "execsnoop", "execsnoop.h")
	e := newEnv(t)

	out := t.TempDir()
	stdout := e.ok("", eccBin, "build", "--json", "-o", out, "--btfgen", kimage.SysfsBTF+","+vmlinuz, src, hdr)
	var res struct {
		Outputs []struct {
			BTF []struct {
				Release  string
				Size     int
				FullSize int `json:"full_size"`
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Outputs) != 1 || len(res.Outputs[0].BTF) != 2 {
		t.Fatalf("ecc build --json: %v\n%s", err, stdout)
	}
	for _, b := range res.Outputs[0].BTF {
		if b.Size == 0 || b.Size*100 > b.FullSize {
			t.Errorf("BTF for %s: %d of %d bytes", b.Release, b.Size, b.FullSize)
		}
	}

	seesExec := func(pkg string) {
		t.Helper()
		r := startEcli(t, "run", "--no-kernel-btf", "-j", pkg)
		bin := namedTrue(t, "ecc-btfgen")
		cmd := exec.Command(bin)
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		ev := r.waitFor(t, "exec of "+bin, nil, func(m map[string]any) bool { return m["filename"] == bin })
		if num(ev["ppid"]) != int64(os.Getpid()) || ev["comm"] != "ecc-btfgen" {
			t.Errorf("%s: ppid %v (want %d), comm %v", pkg, ev["ppid"], os.Getpid(), ev["comm"])
		}
		r.stop(t)
	}
	seesExec(out)

	// Pushed, the BTF is a layer of its own; pulled, it is back in
	// package.json.
	layout := filepath.Join(t.TempDir(), "layout")
	ref := "oci:" + layout + ":v1"
	e.ok("", eccBin, "push", out, ref)
	if !layoutHasLayer(t, layout, packager.MediaTypeBTF) {
		t.Errorf("the pushed artifact has no %s layer", packager.MediaTypeBTF)
	}
	pulled := t.TempDir()
	e.ok("", eccBin, "pull", "-o", pulled, ref)
	p, err := packager.ReadFile(filepath.Join(pulled, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r := packager.BTFReleases(p.BTF); len(r) != 2 {
		t.Errorf("the pulled package has BTF for %v", r)
	}
	seesExec(filepath.Join(pulled, "package.json"))

	// BTF for Debian 6.1 only: one line of error, one of advice.
	only := t.TempDir()
	e.ok("", eccBin, "build", "-o", only, "--btfgen", vmlinuz, src, hdr)
	_, stderr, status := e.run("", ecliBin, "run", "--no-kernel-btf", "-d", "1s", only)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if status != 1 || len(lines) != 2 || !strings.Contains(lines[0], host) || !strings.Contains(lines[0], other) ||
		!strings.HasPrefix(lines[1], "ecli: hint: rebuild the package with ecc build --btfgen") {
		t.Errorf("status %d, stderr:\n%s", status, stderr)
	}
}

// layoutHasLayer reports whether a blob of an OCI layout's manifests is a
// layer of mediaType.
func layoutHasLayer(t *testing.T, layout, mediaType string) bool {
	t.Helper()
	blobs, _ := filepath.Glob(filepath.Join(layout, "blobs", "sha256", "*"))
	for _, b := range blobs {
		data, err := os.ReadFile(b)
		if err != nil || len(data) > 1<<20 {
			continue
		}
		var m struct {
			Layers []struct{ MediaType string }
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		for _, l := range m.Layers {
			if l.MediaType == mediaType {
				return true
			}
		}
	}
	return false
}

// ecc build --btfgen REF pulls a kernel image in cilium/ci-kernels' layout
// (here Debian's 6.1 vmlinuz pushed to an in-process registry), as ecc
// test --kernel does, and the package gets the BTF its vmlinuz gives,
// named by the REF; a linux-image .deb gives the same.
func TestBTFGenKernelImage(t *testing.T) {
	testenv.BPFBuild(t)
	vmlinuz := testenv.DebianVmlinuz(t)
	deb := testenv.KernelDeb(t)
	img, err := os.ReadFile(vmlinuz)
	if err != nil {
		t.Fatal(err)
	}
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref := reg.Host + "/cilium/ci-kernels:6.1"
	kerneltest.Push(t, ref, kerneltest.Layer(map[string][]byte{"boot/vmlinuz": img}))
	src, hdr := repo("examples", "execsnoop", "execsnoop.bpf.c"), repo("examples", "execsnoop", "execsnoop.h")
	e := newEnv(t)
	cache := []string{"XDG_CACHE_HOME=" + t.TempDir()}
	btfOf := func(kernel string) packager.KernelBTF {
		t.Helper()
		out := t.TempDir()
		r := run(t, "", append(e.vars(), cache...), "", eccBin, "build", "--json", "--no-cache", "-o", out, "--btfgen", kernel, src, hdr)
		var res struct {
			Outputs []struct {
				BTF []struct{ Kernel, Release string }
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); r.status != 0 || err != nil || len(res.Outputs) != 1 || len(res.Outputs[0].BTF) != 1 {
			t.Fatalf("ecc build --btfgen %s: status %d, %v\n%s%s", kernel, r.status, err, r.stdout, r.stderr)
		}
		if k := res.Outputs[0].BTF[0].Kernel; k != kernel {
			t.Errorf("--btfgen %s: the output names kernel %q", kernel, k)
		}
		p, err := packager.ReadFile(filepath.Join(out, "package.json"))
		if err != nil || len(p.BTF) != 1 {
			t.Fatalf("--btfgen %s: %v", kernel, err)
		}
		return p.BTF[0]
	}
	want := btfOf(vmlinuz)
	for _, k := range []string{ref, deb} {
		if got := btfOf(k); got.Release != want.Release || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("--btfgen %s: BTF for %s, %d bytes; from its vmlinuz: %s, %d bytes", k, got.Release, len(got.Data), want.Release, len(want.Data))
		}
	}
	// An image without /boot/vmlinuz: one line naming the REF.
	bad := reg.Host + "/cilium/ci-kernels:none"
	kerneltest.Push(t, bad, kerneltest.Layer(map[string][]byte{"etc/hostname": []byte("x")}))
	r := run(t, "", append(e.vars(), cache...), "", eccBin, "build", "-o", t.TempDir(), "--btfgen", bad, src, hdr)
	if r.status != 1 || !strings.HasPrefix(r.stderr, "ecc: pulling kernel image "+bad+"\necc: --btfgen "+bad+": the image has no /boot/vmlinuz") || strings.Count(r.stderr, "\n") != 2 {
		t.Errorf("status %d, stderr:\n%s", r.status, r.stderr)
	}
}

// examples/exitsnoop is a tp_btf program: built with --btfgen, it still
// cannot run on a kernel without BTF (ECLI_NO_KERNEL_BTF=1 stands in for
// one), and ecli says why in words of BTF, not as a missing raw_tp, with
// what to do next.
func TestTpBtfWithoutKernelBTF(t *testing.T) {
	testenv.BPFBuild(t)
	testenv.Kernel(t)
	out := t.TempDir()
	e := newEnv(t)
	e.ok("", eccBin, "build", "-o", out, "--btfgen", kimage.SysfsBTF, repo("examples", "exitsnoop", "exitsnoop.bpf.c"), repo("examples", "exitsnoop", "exitsnoop.h"))
	r := run(t, "", append(e.vars(), "ECLI_NO_KERNEL_BTF=1"), "", ecliBin, "run", "-d", "1s", out)
	if r.status != 1 || !strings.Contains(r.stderr, "program handle_exit (tp_btf/sched_process_exit): tp_btf programs attach through the kernel's own BTF") ||
		strings.Contains(r.stderr, "raw_tp sched_process_exit not supported") || !strings.Contains(r.stderr, "\necli: hint: run it on a kernel built with BTF") {
		t.Errorf("status %d, stderr:\n%s", r.status, r.stderr)
	}
	e.ok("", ecliBin, "run", "-d", "1s", out)
}
