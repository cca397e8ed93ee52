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
