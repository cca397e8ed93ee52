package compiler

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/extract"
	"github.com/ecc-bpf/ecc/packager/section"
)

var update = flag.Bool("update", false, "rewrite the golden metadata files")

// sharedCache keeps one vmlinux.h for all tests of the package.
var sharedCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ecc-compiler-test-")
	if err != nil {
		panic(err)
	}
	sharedCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// example is one program of examples/.
type example struct {
	name, src, hdr string
}

func examples(t *testing.T) []example {
	t.Helper()
	dirs, err := filepath.Glob("../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, d := range dirs {
		name := filepath.Base(d)
		src := filepath.Join(d, name+".bpf.c")
		if _, err := os.Stat(src); err != nil {
			continue
		}
		ex := example{name: name, src: src}
		if _, err := os.Stat(filepath.Join(d, name+".h")); err == nil {
			ex.hdr = filepath.Join(d, name+".h")
		}
		out = append(out, ex)
	}
	if len(out) < 8 {
		t.Fatalf("found %d examples, want at least 8", len(out))
	}
	return out
}

func build(t *testing.T, o *Options) (*Result, string, error) {
	t.Helper()
	var stderr bytes.Buffer
	if o.CacheDir == "" {
		o.CacheDir = sharedCache
	}
	if o.OutDir == "" {
		o.OutDir = t.TempDir()
	}
	o.Stderr = &stderr
	res, err := Build(context.Background(), o)
	return res, stderr.String(), err
}

// TestBuildExamples builds every example and compares its metadata with the
// golden file, field by field (type IDs depend on the compiler and are left out).
func TestBuildExamples(t *testing.T) {
	testenv.BPFBuild(t)
	for _, ex := range examples(t) {
		t.Run(ex.name, func(t *testing.T) {
			res, stderr, err := build(t, &Options{Source: ex.src, ExportHeader: ex.hdr, NoCache: true})
			if err != nil {
				t.Fatalf("build: %v\n%s", err, stderr)
			}
			if strings.Contains(stderr, "warning:") {
				t.Errorf("clang warned:\n%s", stderr)
			}
			out := res.Outputs[0]
			obj, err := os.ReadFile(out.Object)
			if err != nil {
				t.Fatal(err)
			}
			checkObject(t, obj)
			pkg, err := packager.ReadFile(out.Package)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pkg.Object, obj) {
				t.Fatal("package.json embeds a different object than NAME.bpf.o")
			}
			skel, err := os.ReadFile(out.Skel)
			if err != nil {
				t.Fatal(err)
			}
			m, err := packager.UnmarshalMeta(skel)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, m, &pkg.Meta) {
				t.Fatal("skel.json and package.json metadata differ")
			}
			compareGolden(t, ex.name, m)
		})
	}
}

// checkObject checks that the object is stripped of DWARF but keeps BTF.
func checkObject(t *testing.T, obj []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, s := range f.Sections {
		have[s.Name] = true
		if strings.HasPrefix(s.Name, ".debug_") {
			t.Errorf("object keeps DWARF section %s", s.Name)
		}
	}
	for _, s := range []string{".BTF", ".BTF.ext"} {
		if !have[s] {
			t.Errorf("object lacks %s", s)
		}
	}
	if f.Machine != elf.EM_BPF {
		t.Errorf("object machine %v, want EM_BPF", f.Machine)
	}
}

func jsonEqual(t *testing.T, a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func compareGolden(t *testing.T, name string, m *packager.Meta) {
	t.Helper()
	c := *m
	c.ExportTypes = append([]packager.ExportType{}, m.ExportTypes...)
	for i := range c.ExportTypes {
		c.ExportTypes[i].TypeID = 0
	}
	c.BpfSkel.Maps = append([]packager.Map{}, m.BpfSkel.Maps...)
	for i := range c.BpfSkel.Maps {
		c.BpfSkel.Maps[i].ExportConfig = nil
	}
	c.Arch = "" // the host's: checked by TestBuildMultiArch
	got, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./compiler -run TestBuildExamples -update to create it)", err)
	}
	var gm, wm map[string]any
	json.Unmarshal(got, &gm)
	json.Unmarshal(want, &wm)
	diffs := diffJSON("", wm, gm)
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Errorf("metadata differs from %s (-update to accept):\n%s", path, strings.Join(diffs, "\n"))
	}
}

// diffJSON compares decoded JSON values field by field.
func diffJSON(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path + ": want an object"}
		}
		var out []string
		for k, wv := range w {
			out = append(out, diffJSON(path+"."+k, wv, g[k])...)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				out = append(out, path+"."+k+": unexpected field")
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			return []string{path + ": want " + string(wj) + ", got " + string(gj)}
		}
		var out []string
		for i := range w {
			out = append(out, diffJSON(path+"["+itoa(i)+"]", w[i], g[i])...)
		}
		return out
	}
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if !bytes.Equal(wj, gj) {
		return []string{path + ": want " + string(wj) + ", got " + string(gj)}
	}
	return nil
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+i%10))) }

func TestBuildCache(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "cached.bpf.c")
	hdr := filepath.Join(dir, "helper.h")
	os.WriteFile(hdr, []byte("#define VALUE 1\n"), 0o644)
	os.WriteFile(src, []byte(`#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "helper.h"
const volatile int value = VALUE;
SEC("tp/syscalls/sys_enter_getpid")
int handle(void *ctx) { return value; }
char LICENSE[] SEC("license") = "GPL";
`), 0o644)
	cache := t.TempDir()
	o := func() *Options { return &Options{Source: src, OutDir: dir, CacheDir: cache} }
	var first *Result
	for i, wantCached := range []bool{false, true} {
		res, stderr, err := build(t, o())
		if err != nil {
			t.Fatalf("build %d: %v\n%s", i, err, stderr)
		}
		if res.Outputs[0].Cached != wantCached {
			t.Fatalf("build %d: cached=%v, want %v", i, res.Outputs[0].Cached, wantCached)
		}
		if i == 0 {
			first = res
		}
	}
	value := func() string {
		m, err := packager.Open(first.Outputs[0].Skel)
		if err != nil {
			t.Fatal(err)
		}
		return string(m.Meta.BpfSkel.DataSections[0].Variables[0].Value)
	}
	if v := value(); v != "1" {
		t.Fatalf("value %s", v)
	}
	// Changing an included header (not the source) invalidates the entry.
	os.WriteFile(hdr, []byte("#define VALUE 2\n"), 0o644)
	res, _, err := build(t, o())
	if err != nil || res.Outputs[0].Cached {
		t.Fatalf("after header change: cached=%v err=%v", res.Outputs[0].Cached, err)
	}
	if v := value(); v != "2" {
		t.Fatalf("value after header change %s, want 2", v)
	}
	// --no-cache always builds.
	nc := o()
	nc.NoCache = true
	if res, _, err := build(t, nc); err != nil || res.Outputs[0].Cached {
		t.Fatalf("--no-cache: cached=%v err=%v", res.Outputs[0].Cached, err)
	}
	// Different flags are a different entry.
	fl := o()
	fl.CFlags = []string{"-DOTHER"}
	if res, _, err := build(t, fl); err != nil || res.Outputs[0].Cached {
		t.Fatalf("new cflags: cached=%v err=%v", res.Outputs[0].Cached, err)
	}
}

func TestBuildMultiArch(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "arch.bpf.c")
	os.WriteFile(src, []byte(`#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#if defined(__TARGET_ARCH_arm64)
const volatile int arch = 64;
#elif defined(__TARGET_ARCH_x86)
const volatile int arch = 86;
#endif
SEC("tp/syscalls/sys_enter_getpid")
int handle(void *ctx) { return arch; }
char LICENSE[] SEC("license") = "GPL";
`), 0o644)
	arches, _ := ParseArches([]string{"x86_64,arm64"})
	res, stderr, err := build(t, &Options{Source: src, Arches: arches})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if len(res.Outputs) != 2 {
		t.Fatalf("outputs %+v", res.Outputs)
	}
	if filepath.Base(res.Outputs[1].Dir) != "arm64" || res.Outputs[0].Dir != filepath.Dir(res.Outputs[1].Dir) {
		t.Fatalf("output dirs %s, %s", res.Outputs[0].Dir, res.Outputs[1].Dir)
	}
	if HostArch().Name == "x86_64" && !strings.Contains(stderr, "no --btf for arm64") {
		t.Errorf("no notice about the assumed BTF for arm64:\n%s", stderr)
	}
	for i, want := range []string{"86", "64"} {
		p, err := packager.ReadFile(res.Outputs[i].Package)
		if err != nil {
			t.Fatalf("%s: %v", res.Outputs[i].Arch.Name, err)
		}
		if p.Meta.Arch != res.Outputs[i].Arch.Name {
			t.Errorf("package arch %q, want %q", p.Meta.Arch, res.Outputs[i].Arch.Name)
		}
		if got := string(p.Meta.BpfSkel.DataSections[0].Variables[0].Value); got != want {
			t.Errorf("%s: arch = %s, want %s", res.Outputs[i].Arch.Name, got, want)
		}
	}
}

// TestBuildErrors: bad input gives an error naming the thing and the fix,
// and leaves no output files.
func TestBuildErrors(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	syntax := write("broken.bpf.c", "#include \"vmlinux.h\"\nint x = ;\n")
	good := write("good.bpf.c", "#include \"vmlinux.h\"\nint x = 1;\nchar LICENSE[] __attribute__((section(\"license\"))) = \"GPL\";\n")
	garbageBTF := write("garbage.btf", "this is not BTF")
	notC := write("prog.txt", "int x;")
	binary := write("bin.bpf.c", "\x7fELF\x00\x00")
	cases := []struct {
		name string
		o    Options
		want []string
	}{
		{"missing source", Options{Source: filepath.Join(dir, "nope.bpf.c")}, []string{"nope.bpf.c", "no such file"}},
		{"directory", Options{Source: dir}, []string{"is a directory"}},
		{"not C", Options{Source: notC}, []string{"prog.txt", "not a C file"}},
		{"binary", Options{Source: binary}, []string{"bin.bpf.c", "binary data"}},
		{"syntax error", Options{Source: syntax}, []string{"clang failed to compile", "broken.bpf.c"}},
		{"missing header", Options{Source: good, ExportHeader: filepath.Join(dir, "nope.h")}, []string{"nope.h", "no such file"}},
		{"bad btf", Options{Source: good, BTF: map[string]string{"": garbageBTF}}, []string{"garbage.btf", "--btf"}},
		{"missing btf", Options{Source: good, BTF: map[string]string{"": filepath.Join(dir, "none.btf")}}, []string{"none.btf", "--btf"}},
		{"no clang", Options{Source: good, Clang: filepath.Join(dir, "no-clang")}, []string{"no-clang", "apt-get install clang-19"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// -o names a folder that does not exist, two levels deep:
			// neither level may stay behind.
			parent := t.TempDir()
			c.o.OutDir = filepath.Join(parent, "new", "out")
			c.o.CacheDir = t.TempDir()
			_, stderr, err := build(t, &c.o)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 0 {
				t.Errorf("left files or folders behind: %v", ents)
			}
			if c.name == "syntax error" {
				var ce *ClangError
				if !errors.As(err, &ce) || ce.Status == 0 {
					t.Errorf("not a ClangError with a status: %v", err)
				}
				if !strings.Contains(stderr, "broken.bpf.c:2:9: error: expected expression") {
					t.Errorf("clang's diagnostic did not reach the user unchanged:\n%s", stderr)
				}
			}
		})
	}
}

// A failed build into a folder that existed keeps the folder and what was
// in it, and adds nothing; a failed multi-arch build removes the ARCH
// folder it made.
func TestBuildFailureKeepsExistingFolder(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "broken.bpf.c")
	os.WriteFile(src, []byte("#include \"vmlinux.h\"\nint x = ;\n"), 0o644)
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644)
	arches, _ := ParseArches([]string{"x86_64,arm64"})
	if _, _, err := build(t, &Options{Source: src, OutDir: out, Arches: arches}); err == nil {
		t.Fatal("no error")
	}
	ents, err := os.ReadDir(out)
	if err != nil || len(ents) != 1 || ents[0].Name() != "notes.txt" {
		t.Errorf("output folder after a failed build: %v, %v; want notes.txt alone", ents, err)
	}
}

// A misspelt section fails the build with the closest known name; names
// that libbpf or ecli know, or that libbpf's "?" keeps from loading, do
// not.
func TestBuildUnknownSection(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("#include \"vmlinux.h\"\n#include <bpf/bpf_helpers.h>\n"+body+"char LICENSE[] SEC(\"license\") = \"GPL\";\n"), 0o644)
		return p
	}
	bad := write("typo.bpf.c", "SEC(\"tp/sched/sched_switch\") int fine(void *ctx) { return 0; }\n"+
		"SEC(\"tracepont/syscalls/sys_enter_openat\") int handle_open(void *ctx) { return 0; }\n")
	parent := t.TempDir()
	_, _, err := build(t, &Options{Source: bad, OutDir: filepath.Join(parent, "out")})
	want := bad + `: section "tracepont/syscalls/sys_enter_openat" of program handle_open is not a kind ecli can attach; did you mean "tracepoint/syscalls/sys_enter_openat"?`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n got %v\nwant %s", err, want)
	}
	var ue *section.UnknownError
	if !errors.As(err, &ue) || ue.Suggestion != "tracepoint/syscalls/sys_enter_openat" {
		t.Errorf("not a *section.UnknownError: %#v", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}

	good := write("known.bpf.c", "SEC(\"?tracepont/syscalls/sys_enter_openat\") int off(void *ctx) { return 0; }\n"+
		"SEC(\"sk_msg\") int manual(void *ctx) { return 0; }\n"+ // known, attached by hand
		"SEC(\"tp/unused\") int tail(void *ctx) { return 0; }\n"+ // known, no valid target
		"SEC(\".xdp\") int dotted(void *ctx) { return 0; }\n"+ // typed by the name behind the dot
		"SEC(\"xdp_prog\") int prefixed(void *ctx) { return 0; }\n") // cilium/ebpf's prefix rule
	res, stderr, err := build(t, &Options{Source: good})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	p, err := packager.ReadFile(res.Outputs[0].Package)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Meta.BpfSkel.Progs) != 5 {
		t.Errorf("programs %+v, want 5", p.Meta.BpfSkel.Progs)
	}
}

// A syntax error in a source built with an export header: the wrapper that
// keeps the structs alive must not show in the diagnostics.
func TestBuildErrorWithHeader(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ev.h"), []byte("struct ev { int pid; };\n"), 0o644)
	src := filepath.Join(dir, "ev.bpf.c")
	os.WriteFile(src, []byte("#include \"vmlinux.h\"\n#include \"ev.h\"\nstruct ev e = { .pid = oops };\n"), 0o644)
	_, stderr, err := build(t, &Options{Source: src, ExportHeader: filepath.Join(dir, "ev.h"), CacheDir: t.TempDir()})
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(stderr, "ev.bpf.c:3:24: error") || strings.Contains(stderr, ".ecc.c") {
		t.Fatalf("diagnostics:\n%s", stderr)
	}
}

// Export header structs that the source never includes are reported.
func TestBuildHeaderNotIncluded(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ev.h"), []byte("struct ev { int pid; };\n"), 0o644)
	src := filepath.Join(dir, "p.bpf.c")
	os.WriteFile(src, []byte("#include \"vmlinux.h\"\nint x;\n"), 0o644)
	_, _, err := build(t, &Options{Source: src, ExportHeader: filepath.Join(dir, "ev.h"), CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "export struct ev") || !strings.Contains(err.Error(), "#include it") {
		t.Fatalf("got %v", err)
	}
}

func TestHeaderStructs(t *testing.T) {
	got := extract.HeaderStructs([]byte(`
/* struct in_comment { int x; }; */
// struct line_comment { int y; };
#define S "struct in_string { int z; }"
struct event { int pid; };
typedef struct event2 { int x; } event2_t;
struct event *ptr_only;
struct __attribute__((packed)) skipped_attr_before_name { int a; };
struct packed_after __attribute__((packed)) { int b; };
struct event { int dup; };
`))
	want := "event,event2,packed_after"
	if strings.Join(got, ",") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

// Two ring buffers carrying different structs, bound with ECC_EXPORT:
// eunomia's multiple-export-types switch and per-map btf_type_id.
func TestBuildMultipleExports(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "multi.bpf.c")
	os.WriteFile(src, []byte(`#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <ecc.h>
struct exec_ev { int pid; char comm[16]; };
struct exit_ev { int pid; int code; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } execs SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } exits SEC(".maps");
ECC_EXPORT(execs, struct exec_ev);
ECC_EXPORT(exits, struct exit_ev);
SEC("tp/sched/sched_process_exec")
int on_exec(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`), 0o644)
	res, stderr, err := build(t, &Options{Source: src, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	p, err := packager.ReadFile(res.Outputs[0].Package)
	if err != nil {
		t.Fatal(err)
	}
	m := &p.Meta
	if !m.EnableMultipleExportTypes || len(m.ExportTypes) != 2 {
		t.Fatalf("export types %+v, multiple=%v", m.ExportTypes, m.EnableMultipleExportTypes)
	}
	for mapName, st := range map[string]string{"execs": "exec_ev", "exits": "exit_ev"} {
		mp := m.BpfSkel.Map(mapName)
		et := m.ExportType(st)
		if mp == nil || et == nil || mp.ExportType != st {
			t.Fatalf("map %s: %+v, type %+v", mapName, mp, et)
		}
		var cfg struct {
			ID uint32 `json:"btf_type_id"`
		}
		if err := json.Unmarshal(mp.ExportConfig, &cfg); err != nil || cfg.ID != et.TypeID || cfg.ID == 0 {
			t.Errorf("map %s export_config %s, want btf_type_id %d", mapName, mp.ExportConfig, et.TypeID)
		}
	}
	for _, ds := range m.BpfSkel.DataSections {
		for _, v := range ds.Variables {
			if strings.HasPrefix(v.Name, "__ecc") {
				t.Errorf("internal variable %s listed in %s", v.Name, ds.Name)
			}
		}
	}
}

// A malformed @cmdarg fails the build with the file and line.
func TestBuildBadDocComment(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "bad.bpf.c")
	os.WriteFile(src, []byte(`#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/// @cmdarg {"long": "pid", }
const volatile int targ_pid = 0;
SEC("tp/sched/sched_process_exec")
int on_exec(void *ctx) { return targ_pid; }
char LICENSE[] SEC("license") = "GPL";
`), 0o644)
	out := t.TempDir()
	_, _, err := build(t, &Options{Source: src, OutDir: out, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "bad.bpf.c:4") || !strings.Contains(err.Error(), "@cmdarg") {
		t.Fatalf("got %v", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("left files: %v", ents)
	}
}

// A clang whose system include dirs hold no libbpf headers: the error names
// the package to install.
func TestBuildNoLibbpfHeaders(t *testing.T) {
	testenv.BPFBuild(t)
	real := testenv.Clang(t)
	bin := t.TempDir()
	empty := t.TempDir()
	wrapper := filepath.Join(bin, "clang-nolibbpf")
	os.WriteFile(wrapper, []byte(`#!/bin/sh
if [ "$1" = "-v" ]; then
	echo '#include <...> search starts here:' >&2
	echo ' `+empty+`' >&2
	echo 'End of search list.' >&2
	exit 0
fi
exec `+real+` "$@"
`), 0o755)
	out := t.TempDir()
	_, _, err := build(t, &Options{Source: "../examples/execsnoop/execsnoop.bpf.c", Clang: wrapper, OutDir: out, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "libbpf headers not found") || !strings.Contains(err.Error(), "apt-get install libbpf-dev") {
		t.Fatalf("got %v", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("left files: %v", ents)
	}
}

// --btf with a file: the kernel's BTF copied elsewhere gives the same
// vmlinux.h (same digest) and a working build.
func TestBuildExplicitBTF(t *testing.T) {
	testenv.BPFBuild(t)
	data, err := os.ReadFile(DefaultBTF)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "kernel.btf")
	os.WriteFile(p, data, 0o644)
	cache := t.TempDir()
	a, err := VmlinuxHeader(DefaultBTF, cache)
	if err != nil {
		t.Fatal(err)
	}
	b, err := VmlinuxHeader(p, cache)
	if err != nil {
		t.Fatal(err)
	}
	if a.digest != b.digest || a.dir != b.dir {
		t.Fatalf("same BTF, different headers: %s vs %s", a.dir, b.dir)
	}
	res, stderr, err := build(t, &Options{Source: "../examples/runqlat/runqlat.bpf.c", BTF: map[string]string{"": p}, CacheDir: cache})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if _, err := packager.ReadFile(res.Outputs[0].Package); err != nil {
		t.Fatal(err)
	}
}

// A uretprobe program for arm64 on this x86_64 host's BTF: the PT_REGS_*
// macros need arm64's struct user_pt_regs, which ecc declares (CO-RE).
func TestBuildCrossUprobe(t *testing.T) {
	testenv.BPFBuild(t)
	if HostArch().Name == "arm64" {
		t.Skip("the host is arm64")
	}
	arm, _ := ParseArches([]string{"arm64"})
	res, stderr, err := build(t, &Options{Source: "../examples/bashreadline/bashreadline.bpf.c", ExportHeader: "../examples/bashreadline/bashreadline.h", Arches: arm})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	spec, err := btf.LoadSpec(res.Outputs[0].Object)
	if err != nil {
		t.Fatal(err)
	}
	var regs *btf.Struct
	if err := spec.TypeByName("user_pt_regs", &regs); err != nil || regs.Size != 34*8 {
		t.Fatalf("object's user_pt_regs: %v %+v", err, regs)
	}
}

// A header with several structs: each buffer carries the struct its
// programs submit (by size), else the outermost one; ambiguity is a
// warning, a header with only enums and macros too.
func TestBindsBuffersToSubmittedStructs(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	hdr := write("two.h", `
struct args { int argc; char argv[64]; };
struct start_ev { int pid; unsigned long long ts; };
struct exec_ev { int pid; int ppid; struct args a; char comm[16]; };
`)
	src := write("two.bpf.c", `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "two.h"
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } starts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } execs SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } raw SEC(".maps");
SEC("tp/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct start_ev *s = bpf_ringbuf_reserve(&starts, sizeof(*s), 0);
	if (s) { s->pid = 1; s->ts = 2; bpf_ringbuf_submit(s, 0); }
	struct exec_ev *e = bpf_ringbuf_reserve(&execs, sizeof(*e), 0);
	if (e) { e->pid = 1; bpf_ringbuf_submit(e, 0); }
	char buf[8] = {};
	bpf_perf_event_output(ctx, &raw, BPF_F_CURRENT_CPU, buf, bpf_get_prandom_u32() & 7);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
`)
	var verbose bytes.Buffer
	res, stderr, err := build(t, &Options{Source: src, ExportHeader: hdr, Verbose: &verbose, NoCache: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	pkg, err := packager.ReadFile(res.Outputs[0].Package)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"starts": "start_ev", // sizeof(struct start_ev) submitted
		"execs":  "exec_ev",  // sizeof(struct exec_ev) submitted
		"raw":    "exec_ev",  // a variable size: the outermost struct
	}
	for m, st := range want {
		mm := pkg.Meta.BpfSkel.Map(m)
		if mm == nil || mm.ExportType != st {
			t.Errorf("map %s carries %+v, want struct %s", m, mm, st)
		}
	}
	if r := pkg.Meta.BpfSkel.Map("starts").ExportTypeReason; !strings.Contains(r, "sizeof(struct start_ev)") {
		t.Errorf("reason %q", r)
	}
	if !pkg.Meta.EnableMultipleExportTypes {
		t.Error("eunomia's enable_multiple_export_types is off: eunomia would decode every buffer as struct args")
	}
	if !strings.Contains(verbose.String(), "map starts carries struct start_ev: programs submit 16 bytes") {
		t.Errorf("-v does not say which struct starts carries:\n%s", verbose.String())
	}
	// struct start_ev and struct exec_ev are both outermost: raw's choice is
	// a guess, and a warning says so.
	if !strings.Contains(stderr, "map raw: its events are taken to be struct exec_ev") || !strings.Contains(stderr, "ECC_EXPORT(raw") {
		t.Errorf("no ambiguity warning:\n%s", stderr)
	}

	// Only enums and macros: a warning, and the build goes on.
	enums := write("enums.h", "#define MAX 4\nenum kind { A, B };\n// struct commented { int a; };\n")
	_, stderr, err = build(t, &Options{Source: src, ExportHeader: enums, NoCache: true})
	if err != nil {
		t.Fatalf("a header without structs fails the build: %v", err)
	}
	if !strings.Contains(stderr, "enums.h") || !strings.Contains(stderr, "defines no struct") {
		t.Errorf("no warning about enums.h:\n%s", stderr)
	}
}

// Without an export header, a buffer carries the struct of the program's
// own source or headers whose size its programs submit, even when the
// struct lives only on the stack (libbpf-bootstrap's bootstrap_legacy).
func TestBindsBuffersToOwnStructs(t *testing.T) {
	testenv.BPFBuild(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "own.h"), []byte("struct own_event { int pid; char comm[16]; };\nstruct unrelated { long a, b, c, d; };\n"), 0o644)
	src := filepath.Join(dir, "own.bpf.c")
	os.WriteFile(src, []byte(`#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "own.h"
struct config { int verbose; };
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } pb SEC(".maps");
SEC("tp/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct own_event e = {};
	e.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
`), 0o644)
	var verbose bytes.Buffer
	res, stderr, err := build(t, &Options{Source: src, Verbose: &verbose, NoCache: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	pkg, err := packager.ReadFile(res.Outputs[0].Package)
	if err != nil {
		t.Fatal(err)
	}
	if mm := pkg.Meta.BpfSkel.Map("pb"); mm == nil || mm.ExportType != "own_event" {
		t.Fatalf("map pb carries %+v, want struct own_event", mm)
	}
	if len(pkg.Meta.ExportTypes) != 1 || pkg.Meta.ExportTypes[0].Name != "own_event" || pkg.Meta.ExportTypes[0].Size != 20 {
		t.Errorf("export types %+v, want struct own_event only (20 bytes)", pkg.Meta.ExportTypes)
	}
	for _, ds := range pkg.Meta.BpfSkel.DataSections {
		for _, v := range ds.Variables {
			t.Errorf("variable %s in the metadata: the pointers that keep structs in BTF are not settings", v.Name)
		}
	}
	if !strings.Contains(verbose.String(), "map pb carries struct own_event: programs submit 20 bytes, sizeof(struct own_event), defined in the source") {
		t.Errorf("-v does not say why:\n%s", verbose.String())
	}
}

// Build and BuildWasm fill in defaults (the cache folder) on their own
// copy: the caller's Options are not modified.
func TestBuildKeepsOptions(t *testing.T) {
	testenv.BPFBuild(t)
	t.Setenv("ECC_CACHE_DIR", sharedCache) // the default CacheDir
	dir := t.TempDir()
	src := filepath.Join(dir, "keep.bpf.c")
	os.WriteFile(src, []byte(`#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
SEC("tp/syscalls/sys_enter_getpid")
int handle(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`), 0o644)
	o := &Options{Source: src, OutDir: dir, CFlags: []string{"-DX=1"}, BTF: map[string]string{}} // Stderr nil: os.Stderr
	before := *o
	before.CFlags = slices.Clone(o.CFlags)
	if _, err := Build(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*o, before) {
		t.Errorf("Build modified its Options:\n got %+v\nwant %+v", *o, before)
	}
	if _, _, err := BareClangArgs(o); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*o, before) {
		t.Errorf("BareClangArgs modified its Options:\n got %+v\nwant %+v", *o, before)
	}
}
