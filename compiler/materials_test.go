package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager/attest"
)

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// A real build records the source, the project's headers (an included one
// in a subfolder and the export header), ecc's and the system's headers and
// vmlinux.h with their SHA-256, the flags, clang, the BTF and the builder;
// a cached build reports the same materials, and materials.json says so too.
func TestBuildMaterials(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "inc"), 0o755)
	src := filepath.Join(dir, "mat.bpf.c")
	inc := filepath.Join(dir, "inc", "consts.h")
	hdr := filepath.Join(dir, "mat.h")
	os.WriteFile(inc, []byte("#define VALUE 7\n"), 0o644)
	os.WriteFile(hdr, []byte("struct event { int pid; };\n"), 0o644)
	os.WriteFile(src, []byte(`#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "inc/consts.h"
#include "mat.h"
const volatile int value = VALUE;
SEC("tp/syscalls/sys_enter_getpid")
int handle(void *ctx) { return value; }
char LICENSE[] SEC("license") = "GPL";
`), 0o644)
	btf := filepath.Join(t.TempDir(), "kernel.btf")
	data, err := os.ReadFile(DefaultBTF)
	if err != nil {
		t.Skip(err)
	}
	os.WriteFile(btf, data, 0o644)
	cache := t.TempDir()
	opts := &Options{Source: src, ExportHeader: hdr, OutDir: filepath.Join(dir, "out"), CacheDir: cache,
		CFlags: []string{"-DECC_MATERIALS_TEST=1"}, BTF: map[string]string{"": btf},
		Builder: attest.Tool{Version: "v9.8.7", Commit: "c0ffee"}}
	var first *attest.Materials
	for i, wantCached := range []bool{false, true} {
		res, stderr, err := build(t, opts)
		if err != nil {
			t.Fatalf("build %d: %v\n%s", i, err, stderr)
		}
		out := res.Outputs[0]
		if out.Cached != wantCached {
			t.Fatalf("build %d: cached=%v", i, out.Cached)
		}
		onDisk, err := attest.ReadMaterials(out.MaterialsFile)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(onDisk, out.Materials) {
			t.Errorf("build %d: materials.json differs from Output.Materials", i)
		}
		if first == nil {
			first = out.Materials
		} else if !reflect.DeepEqual(first, out.Materials) {
			t.Errorf("the cached build's materials differ:\n%+v\n%+v", first, out.Materials)
		}
	}
	m := first
	if m.Name != "mat" || m.Arch != HostArch().Name || !reflect.DeepEqual(m.CFlags, []string{"-DECC_MATERIALS_TEST=1"}) {
		t.Errorf("name %q arch %q cflags %q", m.Name, m.Arch, m.CFlags)
	}
	if m.Builder.Name != "ecc" || m.Builder.Version != "v9.8.7" || m.Builder.Commit != "c0ffee" {
		t.Errorf("builder %+v", m.Builder)
	}
	clang, err := FindClang("", cache)
	if err != nil {
		t.Fatal(err)
	}
	if m.Clang.Version != clang.Version || m.Clang.Path != clang.Path {
		t.Errorf("clang %+v, want %s %s", m.Clang, clang.Path, clang.Version)
	}
	if m.BTF.Path != btf || m.BTF.SHA256 != fileSHA256(t, btf) {
		t.Errorf("btf %+v, want %s", m.BTF, fileSHA256(t, btf))
	}
	if m.Object != fileSHA256(t, filepath.Join(dir, "out", "mat.bpf.o")) {
		t.Errorf("object_sha256 %s is not the object's", m.Object)
	}
	if m.InvocationID == "" || m.StartedOn.IsZero() || m.FinishedOn.Before(m.StartedOn) {
		t.Errorf("invocation %q %v %v", m.InvocationID, m.StartedOn, m.FinishedOn)
	}
	byPath := map[string]attest.File{}
	for _, f := range m.Files {
		byPath[f.Path] = f
	}
	if m.Files[0].Path != "mat.bpf.c" {
		t.Errorf("first file %+v, want the source", m.Files[0])
	}
	for path, want := range map[string]struct{ kind, file string }{
		"mat.bpf.c":                      {attest.KindSource, src},
		"mat.h":                          {attest.KindExportHeader, hdr},
		"inc/consts.h":                   {attest.KindHeader, inc},
		"/usr/include/bpf/bpf_helpers.h": {attest.KindSystem, "/usr/include/bpf/bpf_helpers.h"},
	} {
		f, ok := byPath[path]
		if !ok || f.Kind != want.kind || f.SHA256 != fileSHA256(t, want.file) {
			t.Errorf("%s: %+v (listed %v), want kind %s sha256 %s", path, f, ok, want.kind, fileSHA256(t, want.file))
		}
	}
	if f := byPath["vmlinux.h"]; f.Kind != attest.KindVmlinux || len(f.SHA256) != 64 {
		t.Errorf("vmlinux.h: %+v", f)
	}
	if f := byPath["ecc/include/bpf/bpf_helpers.h"]; f.Kind != attest.KindECC {
		t.Errorf("ecc's bpf_helpers.h: %+v", f)
	}
	// Another BTF path is another build: the materials name the BTF used.
	btf2 := filepath.Join(t.TempDir(), "other.btf")
	os.WriteFile(btf2, data, 0o644)
	o2 := *opts
	o2.BTF = map[string]string{"": btf2}
	res, _, err := build(t, &o2)
	if err != nil || res.Outputs[0].Materials.BTF.Path != btf2 {
		t.Errorf("other BTF path: %v %+v", err, res.Outputs[0].Materials.BTF)
	}
}
