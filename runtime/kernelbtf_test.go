package runtime

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/kimage"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/loader"
	"github.com/ecc-bpf/ecc/source"
)

// On a kernel without BTF of its own (NoKernelBTF stands in for one), the
// package's BTF for this kernel's release relocates the programs: execsnoop
// reads task->real_parent->tgid through CO-RE, so a right ppid shows the
// right offsets. The same package with another kernel's BTF under this
// release gets a wrong ppid: the package's BTF is what served. With no BTF
// for this release, the run fails with one line naming the releases there
// are; --btf FILE still wins.
func TestPackageBTFServesKernelsWithoutBTF(t *testing.T) {
	testenv.Clang(t)
	testenv.Kernel(t)
	vmlinuz := testenv.DebianVmlinuz(t)
	host, err := kimage.HostRelease()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	res, err := compiler.Build(context.Background(), &compiler.Options{
		Source:       filepath.Join("..", "examples", "execsnoop", "execsnoop.bpf.c"),
		ExportHeader: filepath.Join("..", "examples", "execsnoop", "execsnoop.h"),
		OutDir:       t.TempDir(), CacheDir: t.TempDir(), Stderr: &stderr,
		BTFGen: []string{kimage.SysfsBTF, vmlinuz},
	})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, stderr.String())
	}
	src, err := source.Open(context.Background(), res.Outputs[0].Package, nil)
	if err != nil {
		t.Fatal(err)
	}
	var hostBTF, otherBTF packager.KernelBTF
	for _, b := range src.Package.BTF {
		if b.Release == host {
			hostBTF = b
		} else {
			otherBTF = b
		}
	}
	if hostBTF.Data == nil || otherBTF.Data == nil {
		t.Fatalf("the package has BTF for %v", packager.BTFReleases(src.Package.BTF))
	}
	with := func(bs ...packager.KernelBTF) *source.Source {
		p := *src.Package
		p.BTF = bs
		return &source.Source{Name: src.Name, Package: &p}
	}
	var runErrs string
	ppid := func(s *source.Source, mark string, o Options) int64 {
		t.Helper()
		o.JSON, o.NoKernelBTF = true, true
		r := start(t, s, nil, o)
		defer r.stop(t)
		cmd := exec.Command("/bin/true", mark)
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		// By pid: with wrong offsets the arguments do not read either.
		ev := r.waitFor(t, "exec of "+mark, func(m map[string]any) bool {
			return num(m["pid"]) == int64(cmd.Process.Pid)
		})
		runErrs = r.errs.String()
		return num(ev["ppid"])
	}
	t.Setenv("ECC_CACHE_DIR", t.TempDir())

	if got := ppid(with(otherBTF, hostBTF), "pkg-btf-right", Options{Verbose: true}); got != int64(os.Getpid()) {
		t.Errorf("with this kernel's BTF from the package: ppid %d, want %d", got, os.Getpid())
	}
	if want := "ecli: CO-RE relocated against the package's BTF for " + host + " "; !strings.Contains(runErrs, want) {
		t.Errorf("-v does not say %q:\n%s", want, runErrs)
	}
	wrong := otherBTF
	wrong.Release = host
	if got := ppid(with(wrong), "pkg-btf-wrong", Options{}); got == int64(os.Getpid()) {
		t.Errorf("with %s's BTF under this kernel's release, ppid is still right: the package's BTF did not serve", otherBTF.Release)
	}
	// --btf FILE wins over the package's BTF, even when none matches.
	if got := ppid(with(otherBTF), "pkg-btf-file", Options{KernelBTF: kimage.SysfsBTF}); got != int64(os.Getpid()) {
		t.Errorf("with --btf %s: ppid %d, want %d", kimage.SysfsBTF, got, os.Getpid())
	}

	for _, s := range []*source.Source{with(otherBTF), with()} {
		var out, errs bytes.Buffer
		err := Run(context.Background(), s.Name, s.Package, nil, &Options{NoKernelBTF: true, Stdout: &out, Stderr: &errs})
		var nb *loader.NoKernelBTFError
		if !errors.As(err, &nb) || nb.Release != host {
			t.Fatalf("BTF for %v only: %v, want a *loader.NoKernelBTFError for %s", packager.BTFReleases(s.Package.BTF), err, host)
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, host) || len(s.Package.BTF) > 0 && !strings.Contains(msg, otherBTF.Release) {
			t.Errorf("the error is not one line naming %s and the package's releases: %q", host, msg)
		}
	}
}

// A tp_btf program (examples/exitsnoop) on a kernel without BTF of its own
// fails as one that needs the kernel's BTF, even with the package bringing
// BTF for this release, and the kernel is not asked; the same package runs
// on the kernel's BTF.
func TestTpBtfNeedsKernelBTF(t *testing.T) {
	src := buildExample(t, "exitsnoop")
	src.Package.BTF = []packager.KernelBTF{hostBTF(t)}
	var out, errs bytes.Buffer
	err := Run(context.Background(), src.Name, src.Package, nil, &Options{NoKernelBTF: true, Stdout: &out, Stderr: &errs})
	var kb *loader.KernelBTFError
	if !errors.As(err, &kb) || kb.Kind != "tp_btf" || kb.Target != "sched_process_exit" || !errors.Is(err, attach.ErrNotSupported) {
		t.Fatalf("got %v, want a *loader.KernelBTFError for tp_btf sched_process_exit", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "handle_exit") || !strings.Contains(msg, "kernel's own BTF") || !strings.Contains(msg, "--btfgen") {
		t.Errorf("the error does not name the program and say why: %q", msg)
	}
	r := start(t, src, nil, Options{JSON: true})
	r.stop(t)
}
