package compiler

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/kimage"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
)

// --btfgen with this host's BTF and Debian 6.1's vmlinuz: the package
// carries both, minimised, tagged with each release; a rebuild comes from
// the cache with the same package; a changed kernel list rebuilds.
func TestBuildBTFGen(t *testing.T) {
	testenv.BPFBuild(t)
	vmlinuz := testenv.DebianVmlinuz(t)
	host, err := kimage.HostRelease()
	if err != nil {
		t.Fatal(err)
	}
	other := testenv.DebianRelease(vmlinuz)
	dir := t.TempDir()
	cache := t.TempDir()
	o := func(k ...string) *Options {
		return &Options{Source: "../examples/execsnoop/execsnoop.bpf.c", ExportHeader: "../examples/execsnoop/execsnoop.h",
			OutDir: dir, CacheDir: cache, BTFGen: k}
	}
	res, stderr, err := build(t, o(kimage.SysfsBTF, vmlinuz))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	got := res.Outputs[0].BTF
	if len(got) != 2 || got[0].Release != host || got[1].Release != other {
		t.Fatalf("BTF outputs %+v, want %s and %s", got, host, other)
	}
	for _, k := range got {
		if k.Size == 0 || k.Size*100 > k.FullSize || k.Types == 0 || k.Arch != HostArch().Name {
			t.Errorf("%s: %d of %d bytes, %d types, arch %s", k.Release, k.Size, k.FullSize, k.Types, k.Arch)
		}
	}
	p, err := packager.ReadFile(res.Outputs[0].Package)
	if err != nil {
		t.Fatal(err)
	}
	if r := packager.BTFReleases(p.BTF); len(r) != 2 || r[0] != host && r[1] != host {
		t.Fatalf("package.json has BTF for %v", r)
	}
	before, _ := os.ReadFile(res.Outputs[0].Package)

	res, _, err = build(t, o(kimage.SysfsBTF, vmlinuz))
	if err != nil || !res.Outputs[0].Cached {
		t.Fatalf("rebuild: cached=%v, %v", res != nil && res.Outputs[0].Cached, err)
	}
	if after, _ := os.ReadFile(res.Outputs[0].Package); !bytes.Equal(before, after) {
		t.Error("the cached package differs")
	}
	res, _, err = build(t, o(vmlinuz))
	if err != nil || res.Outputs[0].Cached {
		t.Fatalf("one kernel less: cached=%v, %v", res != nil && res.Outputs[0].Cached, err)
	}
	p, _ = packager.ReadFile(res.Outputs[0].Package)
	if r := packager.BTFReleases(p.BTF); len(r) != 1 || r[0] != other {
		t.Fatalf("package.json has BTF for %v, want %s only", r, other)
	}
}

// --btfgen takes Debian's kernel package as it is: the package gets the
// BTF that its vmlinuz gives, and names the kernel as given
// (KernelNames, for an image REF pulled into a file, wins over the path).
func TestBuildBTFGenDeb(t *testing.T) {
	testenv.BPFBuild(t)
	vmlinuz := testenv.DebianVmlinuz(t)
	deb := testenv.KernelDeb(t)
	cache := t.TempDir()
	pkgBTF := func(o *Options) (packager.KernelBTF, KernelBTFOutput) {
		t.Helper()
		o.Source, o.ExportHeader = "../examples/execsnoop/execsnoop.bpf.c", "../examples/execsnoop/execsnoop.h"
		o.OutDir, o.CacheDir = t.TempDir(), cache
		res, stderr, err := build(t, o)
		if err != nil {
			t.Fatalf("--btfgen %v: %v\n%s", o.BTFGen, err, stderr)
		}
		p, err := packager.ReadFile(res.Outputs[0].Package)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.BTF) != 1 || len(res.Outputs[0].BTF) != 1 {
			t.Fatalf("--btfgen %v: BTF for %v", o.BTFGen, packager.BTFReleases(p.BTF))
		}
		return p.BTF[0], res.Outputs[0].BTF[0]
	}
	want, _ := pkgBTF(&Options{BTFGen: []string{vmlinuz}})
	got, out := pkgBTF(&Options{BTFGen: []string{deb}})
	if got.Release != want.Release || got.Arch != want.Arch || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("from %s: %s %s, %d bytes; from its vmlinuz: %s %s, %d bytes", filepath.Base(deb),
			got.Release, got.Arch, len(got.Data), want.Release, want.Arch, len(want.Data))
	}
	if out.Kernel != deb || out.Release != testenv.DebianRelease(vmlinuz) {
		t.Errorf("output %+v", out)
	}
	const ref = "registry.example/cilium/ci-kernels:6.1"
	if _, out := pkgBTF(&Options{BTFGen: []string{vmlinuz}, KernelNames: map[string]string{vmlinuz: ref}, NoCache: true}); out.Kernel != ref {
		t.Errorf("named %q: output names %q", ref, out.Kernel)
	}
	text := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(text, []byte("hello"), 0o644)
	_, _, err := build(t, &Options{Source: "../examples/execsnoop/execsnoop.bpf.c", OutDir: t.TempDir(), CacheDir: cache,
		BTFGen: []string{text}, KernelNames: map[string]string{text: ref}})
	var ke *KernelError
	if !errors.As(err, &ke) || ke.Kernel != ref || !strings.HasPrefix(err.Error(), "--btfgen "+ref+": ") {
		t.Errorf("error %v, want a *KernelError naming %s", err, ref)
	}
}

func TestBuildBTFGenErrors(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	raw, err := os.ReadFile(kimage.SysfsBTF)
	if err != nil {
		t.Fatal(err)
	}
	unnamed := filepath.Join(dir, "kernel.btf")
	os.WriteFile(unnamed, raw, 0o644)
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not a kernel at all, just a few words of text"), 0o644)
	src := "../examples/opensnoop/opensnoop.bpf.c"
	for _, c := range []struct {
		name   string
		o      *Options
		want   string
		target error
	}{
		{"raw BTF of no release", &Options{Source: src, BTFGen: []string{unnamed}}, "name the file RELEASE.btf", nil},
		{"not a kernel", &Options{Source: src, BTFGen: []string{text}}, "notes.txt", kimage.ErrFormat},
		{"missing", &Options{Source: src, BTFGen: []string{filepath.Join(dir, "nope")}}, "no such file", os.ErrNotExist},
		{"same release twice", &Options{Source: src, BTFGen: []string{kimage.SysfsBTF, kimage.SysfsBTF}}, "was given already", nil},
		{"other architecture", &Options{Source: src, Arches: []Arch{mustArch(t, "arm64")}, BTFGen: []string{kimage.SysfsBTF}}, "add --arch x86_64", nil},
	} {
		out := t.TempDir()
		c.o.OutDir = out
		_, _, err := build(t, c.o)
		var ke *KernelError
		if !errors.As(err, &ke) || !strings.Contains(err.Error(), c.want) || (c.target != nil && !errors.Is(err, c.target)) {
			t.Errorf("%s: %v, want a *KernelError saying %q", c.name, err, c.want)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Errorf("%s: left %d files behind", c.name, len(ents))
		}
	}
}

func mustArch(t *testing.T, name string) Arch {
	a, err := ParseArch(name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// --btf (for vmlinux.h) takes a vmlinuz too: its vmlinux's BTF.
func TestBTFFromVmlinuz(t *testing.T) {
	vmlinuz := testenv.DebianVmlinuz(t)
	got, err := readBTF(vmlinuz)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kimage.Read(vmlinuz)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, k.BTF) {
		t.Errorf("readBTF gave %d bytes, the vmlinux's BTF is %d", len(got), len(k.BTF))
	}
}
