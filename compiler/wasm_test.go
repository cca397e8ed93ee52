package compiler

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental/table"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/ecc-bpf/ecc/compiler/wasmgen"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/internal/wasmbin"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/templates"
)

// needWasmC skips unless clang can build wasm32-wasi programs.
func needWasmC(t *testing.T) *Clang {
	t.Helper()
	testenv.Clang(t)
	cl, err := FindClang("", sharedCache)
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	if missing := wasmToolchainMissing(cl); len(missing) > 0 {
		testenv.Missing(t, "%v", &WasmToolchainError{Clang: cl, Missing: missing})
	}
	return cl
}

// needGo skips unless a Go toolchain is here for Go guests.
func needGo(t *testing.T) string {
	t.Helper()
	p, err := findGo("")
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	return p
}

// layoutBPF has every kind of member the generators handle, with the
// layouts that differ between BPF and wasm32 (long, pointers) and those C
// and Go cannot reproduce naturally (packed, aligned, bitfields, unions).
const layoutBPF = `
struct inner { unsigned char a; unsigned long long b; };
union un { int i; long l; char c[3]; };
enum color { RED, GREEN };
struct event {
	int pid;
	unsigned long ts;
	void *ptr;
	char comm[16];
	struct inner in;
	struct inner arr[2];
	struct { short x; int y; } anon_named;
	union { int u1; long long u2; };
	union un named_union;
	unsigned int flags:3, mode:5;
	signed int sb:4;
	_Bool ok;
	enum color e;
	float f; double d;
	unsigned __int128 big;
	struct { char q; } arr2[3];
};
struct __attribute__((packed)) packed { char c; unsigned long long v; unsigned int w; };
struct aligned_ev { int a; int b __attribute__((aligned(16))); };
struct with_packed { char c; struct packed p; int z; };
struct flex { int n; char data[]; };
struct event *d1 __attribute__((unused));
struct packed *d2 __attribute__((unused));
struct aligned_ev *d3 __attribute__((unused));
struct with_packed *d4 __attribute__((unused));
struct flex *d5 __attribute__((unused));
char LICENSE[] __attribute__((section("license"))) = "GPL";
`

var layoutStructs = []string{"event", "packed", "aligned_ev", "with_packed", "flex"}

// compileBPF compiles a self-contained BPF C source into an object.
func compileBPF(t *testing.T, cl *Clang, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "t.bpf.c"), filepath.Join(dir, "t.bpf.o")
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(cl.Path, "-g", "-O2", "-target", "bpf", "-c", in, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("clang -target bpf: %v\n%s", err, b)
	}
	obj, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func bindings(t *testing.T, obj []byte, structs ...string) *wasmgen.Bindings {
	t.Helper()
	m := &packager.Meta{BpfSkel: packager.Skeleton{Progs: []packager.Prog{{Name: "handle"}}}}
	for _, s := range structs {
		m.ExportTypes = append(m.ExportTypes, packager.ExportType{Name: s})
	}
	b, err := wasmgen.New("layout", "layout.bpf.c", obj, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compileWasmC compiles main.c of dir (with the generated header there).
func compileWasmC(cl *Clang, dir string, flags ...string) (string, error) {
	sdk, err := templates.ExtractWasm(sharedCache)
	if err != nil {
		return "", err
	}
	args := append([]string{"--target=wasm32-wasi", "-O2", "-I" + dir, "-I" + filepath.Join(sdk, "c"),
		"-Wl,--export-table", filepath.Join(dir, "main.c"), "-o", filepath.Join(dir, "main.wasm")}, flags...)
	out, err := exec.Command(cl.Path, args...).CombinedOutput()
	return string(out), err
}

// TestWasmCHeaderLayoutChecks: the generated header compiles for wasm32,
// and its static assertions catch any layout that differs from the BPF
// object's.
func TestWasmCHeaderLayoutChecks(t *testing.T) {
	cl := needWasmC(t)
	obj := compileBPF(t, cl, layoutBPF)
	hdr, err := bindings(t, obj, layoutStructs...).CHeader()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"u64 ts;", "u64 ptr;", "struct inner arr[2];", "u32 flags : 3;", "s32 sb : 4;",
		"} __attribute__((packed));", "unsigned __int128 big;", "char data[0];",
		"_Static_assert(sizeof(struct event) == 176,",
		"_Static_assert(__builtin_offsetof(struct event, anon_named.y) == 92,",
		"_Static_assert(__builtin_offsetof(struct event, u2) == 96,",
		"_Static_assert(__builtin_offsetof(struct event, arr2[0].q) == 160,",
		"_Static_assert(__builtin_offsetof(struct with_packed, z) == 16,",
		"#define ECC_BPF_OBJECT layout_bpf_object",
		`static const char *const layout_bpf_programs[] = {"handle", NULL};`,
	} {
		if !bytes.Contains(hdr, []byte(want)) {
			t.Errorf("header lacks %q", want)
		}
	}
	main := `#include "layout.wasm.h"
int main(void) {
	struct event e = {0};
	return (int)sizeof(e) + (int)ECC_BPF_OBJECT_SIZE + (ECC_BPF_OBJECT[0] == 0x7f ? 0 : 1);
}
`
	try := func(t *testing.T, header []byte, flags ...string) (string, error) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "layout.wasm.h"), header, 0o644)
		os.WriteFile(filepath.Join(dir, "main.c"), []byte(main), 0o644)
		return compileWasmC(cl, dir, flags...)
	}
	t.Run("compiles", func(t *testing.T) {
		if out, err := try(t, hdr); err != nil {
			t.Fatalf("the generated header does not compile for wasm32: %v\n%s", err, out)
		}
	})
	// What a hand-written header would do: long is 4 bytes on wasm32.
	t.Run("wasm32 long", func(t *testing.T) {
		bad := bytes.Replace(hdr, []byte("\tu64 ts;"), []byte("\tunsigned long ts;"), 1)
		out, err := try(t, bad)
		if err == nil || !strings.Contains(out, "static assertion failed") || !strings.Contains(out, "struct event: ptr at offset 16") {
			t.Fatalf("a 4-byte ts compiled or failed otherwise: %v\n%s", err, out)
		}
	})
	t.Run("tampered offset", func(t *testing.T) {
		bad := bytes.Replace(hdr, []byte("__builtin_offsetof(struct event, comm) == 24"), []byte("__builtin_offsetof(struct event, comm) == 25"), 1)
		out, err := try(t, bad)
		if err == nil || !strings.Contains(out, "static assertion failed") {
			t.Fatalf("a wrong offset compiled: %v\n%s", err, out)
		}
	})
	t.Run("tampered size", func(t *testing.T) {
		bad := bytes.Replace(hdr, []byte("sizeof(struct packed) == 13"), []byte("sizeof(struct packed) == 16"), 1)
		out, err := try(t, bad)
		if err == nil || !strings.Contains(out, "static assertion failed") {
			t.Fatalf("a wrong size compiled: %v\n%s", err, out)
		}
	})
}

// TestWasmCHeaderOwnTypes: with ECC_WASM_OWN_TYPES the user's declarations
// are checked: the BPF program's own header fails on wasm32 (long, pointer),
// a fixed-width one passes.
func TestWasmCHeaderOwnTypes(t *testing.T) {
	cl := needWasmC(t)
	decl := "struct ev { int pid; long ts; void *p; char comm[16]; };\n"
	obj := compileBPF(t, cl, decl+"struct ev *d __attribute__((unused));\nchar LICENSE[] __attribute__((section(\"license\"))) = \"GPL\";\n")
	hdr, err := bindings(t, obj, "ev").CHeader()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		decl string
		ok   bool
	}{
		{decl, false},
		{"struct ev { int pid; long long ts; unsigned long long p; char comm[16]; };\n", true},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "layout.wasm.h"), hdr, 0o644)
		os.WriteFile(filepath.Join(dir, "main.c"), []byte("#define ECC_WASM_OWN_TYPES\n#include <stdint.h>\n"+c.decl+"#include \"layout.wasm.h\"\nint main(void) { return 0; }\n"), 0o644)
		out, err := compileWasmC(cl, dir)
		if (err == nil) != c.ok {
			t.Errorf("%s: compiled = %v, want %v\n%s", strings.TrimSpace(c.decl), err == nil, c.ok, out)
		}
		if !c.ok && !strings.Contains(out, "struct ev: ts at offset 8 in the BPF object") {
			t.Errorf("the failure does not name the misplaced member:\n%s", out)
		}
	}
}

// goModule writes a throwaway module and builds it for wasip1 (or, with
// host, for this machine and runs it).
func goModule(t *testing.T, goCmd string, files map[string][]byte, host bool) (string, error) {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = []byte("module layouttest\n\ngo 1.23\n")
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var cmd *exec.Cmd
	if host {
		cmd = exec.Command(goCmd, "run", ".")
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOPROXY=off")
	} else {
		cmd = exec.Command(goCmd, "build", "-o", filepath.Join(dir, "out.wasm"), ".")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOPROXY=off")
	}
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestWasmGoLayoutChecks: the generated Go file builds for wasip1, its
// compile-time checks catch a wrong layout, and the bitfield getters read
// what the BPF program wrote.
func TestWasmGoLayoutChecks(t *testing.T) {
	cl := needWasmC(t)
	goCmd := needGo(t)
	obj := compileBPF(t, cl, layoutBPF)
	b := bindings(t, obj, layoutStructs...)
	src, err := b.GoFile("main", "layout.bpf.o")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"//go:embed layout.bpf.o\nvar bpfObject []byte",
		`var bpfPrograms = []string{"handle"}`,
		"type Un [8]byte",
		"_ = [1]struct{}{}[unsafe.Sizeof(Event{})-176]",
		"_ = [1]struct{}{}[unsafe.Offsetof(Event{}.AnonNamed.Y)-4]",
		"_ = [1]struct{}{}[unsafe.Offsetof(Event{}.Arr2[0].Q)-0]",
		"_ = [1]struct{}{}[unsafe.Offsetof(WithPacked{}.Z)-16]",
		"func (s *Event) Sb() int32 {",
	} {
		if !bytes.Contains(src, []byte(want)) {
			t.Errorf("Go file lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^\s+V\s+\[8\]byte // packed in C`).Match(src) {
		t.Errorf("packed.v is not kept as bytes:\n%s", src)
	}
	main := []byte("package main\n\nfunc main() { _ = bpfObject; _ = bpfPrograms; var e Event; _ = e }\n")
	gen := wasmgen.GoFileName("layout")
	t.Run("builds", func(t *testing.T) {
		out, err := goModule(t, goCmd, map[string][]byte{gen: src, "main.go": main, "layout.bpf.o": obj}, false)
		if err != nil {
			t.Fatalf("the generated Go does not build for wasip1: %v\n%s", err, out)
		}
	})
	t.Run("tampered field", func(t *testing.T) {
		bad := regexp.MustCompile(`(?m)^(\s+Ts\s+)uint64`).ReplaceAll(src, []byte("${1}uint32"))
		if bytes.Equal(bad, src) {
			t.Fatal("no Ts field to tamper with")
		}
		out, err := goModule(t, goCmd, map[string][]byte{gen: bad, "main.go": main, "layout.bpf.o": obj}, false)
		if err == nil || !strings.Contains(out, gen) {
			t.Fatalf("a 4-byte Ts built, or failed elsewhere: %v\n%s", err, out)
		}
	})
	t.Run("tampered check", func(t *testing.T) {
		bad := bytes.Replace(src, []byte("unsafe.Sizeof(Packed{})-13"), []byte("unsafe.Sizeof(Packed{})-12"), 1)
		out, err := goModule(t, goCmd, map[string][]byte{gen: bad, "main.go": main, "layout.bpf.o": obj}, false)
		if err == nil || !strings.Contains(out, "out of bounds") {
			t.Fatalf("a wrong size built: %v\n%s", err, out)
		}
	})
	t.Run("bitfields", func(t *testing.T) {
		// The record as the BPF program lays it out, from its BTF.
		spec, err := btf.LoadSpecFromReader(bytes.NewReader(obj))
		if err != nil {
			t.Fatal(err)
		}
		var st *btf.Struct
		if err := spec.TypeByName("event", &st); err != nil {
			t.Fatal(err)
		}
		rec := make([]byte, st.Size)
		vals := map[string]uint64{"flags": 5, "mode": 17, "sb": 0xd} // sb:4 = -3
		for _, m := range st.Members {
			if v, ok := vals[m.Name]; ok {
				for i := uint32(0); i < uint32(m.BitfieldSize); i++ {
					bit := uint32(m.Offset) + i
					if v>>i&1 != 0 {
						rec[bit/8] |= 1 << (bit % 8)
					}
				}
			}
		}
		// The generated file is for GOARCH=wasm; the same code on this
		// machine reads the same bytes the same way.
		hostMain := fmt.Sprintf(`package main

import (
	"fmt"
	"unsafe"
)

func main() {
	rec := %#v
	e := (*Event)(unsafe.Pointer(&rec[0]))
	fmt.Println(e.Flags(), e.Mode(), e.Sb(), len(bpfObject) > 0)
}
`, rec)
		out, err := goModule(t, goCmd, map[string][]byte{"layout_gen.go": src, "main.go": []byte(hostMain), "layout.bpf.o": obj}, true)
		if err != nil {
			t.Fatalf("go run: %v\n%s", err, out)
		}
		if strings.TrimSpace(out) != "5 17 -3 true" {
			t.Errorf("bitfield getters read %q, want 5 17 -3 true", out)
		}
	})
}

// fakeHost implements the wasm_bpf import module the way ecli's host does,
// over an in-memory "kernel": records to deliver, one hash map.
type fakeHost struct {
	object   []byte
	attached []string
	records  [][]byte
	timeouts int // polls that time out before the records come
	kv       map[uint32][]byte
	valSize  uint32
	rounds   int // walks of the map (next_key from NULL)
	calls    []string
}

func cstr(m api.Module, p uint32) string {
	if p == 0 {
		return ""
	}
	var s []byte
	for {
		c, ok := m.Memory().ReadByte(p)
		if !ok || c == 0 {
			return string(s)
		}
		s = append(s, c)
		p++
	}
}

func (h *fakeHost) instantiate(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder("wasm_bpf").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, ptr, size uint32) uint64 {
		b, ok := m.Memory().Read(ptr, size)
		if !ok || !bytes.HasPrefix(b, []byte("\x7fELF")) {
			return 0
		}
		h.object = append([]byte(nil), b...)
		return 1
	}).Export("wasm_load_bpf_object").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, obj uint64, name, target uint32) int32 {
		if obj != 1 {
			return -9
		}
		h.attached = append(h.attached, cstr(m, name)+"@"+cstr(m, target))
		return 0
	}).Export("wasm_attach_bpf_program").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, obj uint64, name uint32) int32 {
		switch cstr(m, name) {
		case "events":
			return 3
		case "counts":
			return 4
		}
		return -2
	}).Export("wasm_bpf_map_fd_by_name").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, obj uint64, fd int32, fn, cbctx, data uint32, max, timeout int32) int32 {
		h.calls = append(h.calls, fmt.Sprintf("poll fd=%d fn=%v", fd, fn != 0))
		if fd != 3 {
			return -9
		}
		if h.timeouts > 0 {
			h.timeouts--
			return 0
		}
		if len(h.records) == 0 {
			return -4 // EINTR: ends the guests' loops
		}
		if fn == 0 { // pull mode: one record, its length
			rec := h.records[0]
			h.records = h.records[1:]
			if len(rec) > int(max) || !m.Memory().Write(data, rec) {
				return -7
			}
			return int32(len(rec))
		}
		cb := table.LookupFunction(m, 0, fn, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32})
		n := int32(0)
		for len(h.records) > 0 {
			rec := h.records[0]
			h.records = h.records[1:]
			if len(rec) > int(max) || !m.Memory().Write(data, rec) {
				return -7
			}
			res, err := cb.Call(ctx, uint64(cbctx), uint64(data), uint64(len(rec)))
			if err != nil {
				panic(err)
			}
			if int32(res[0]) < 0 {
				return int32(res[0])
			}
			n++
		}
		return n
	}).Export("wasm_bpf_buffer_poll").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, fd, cmd int32, key, value, next uint32, flags uint64) int32 {
		if fd != 4 {
			return -9
		}
		readKey := func(p uint32) (uint32, bool) { return m.Memory().ReadUint32Le(p) }
		switch cmd {
		case 1:
			k, _ := readKey(key)
			v, ok := h.kv[k]
			if !ok {
				return -2
			}
			m.Memory().Write(value, v)
			h.calls = append(h.calls, fmt.Sprintf("lookup %d", k))
		case 2:
			k, _ := readKey(key)
			_, exists := h.kv[k]
			if (flags == 1 && exists) || (flags == 2 && !exists) {
				return map[bool]int32{true: -17, false: -2}[exists]
			}
			v, _ := m.Memory().Read(value, h.valSize)
			h.kv[k] = append([]byte(nil), v...)
			h.calls = append(h.calls, fmt.Sprintf("update %d flags=%d", k, flags))
		case 3:
			k, _ := readKey(key)
			if _, ok := h.kv[k]; !ok {
				return -2
			}
			delete(h.kv, k)
			h.calls = append(h.calls, fmt.Sprintf("delete %d", k))
		case 4:
			var keys []uint32
			for k := range h.kv {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			var after uint32
			if key == 0 {
				h.rounds++
				if h.rounds > 1 { // the guest's second walk: enough
					m.CloseWithExitCode(ctx, 0)
					panic(sys.NewExitError(0))
				}
			} else {
				after, _ = readKey(key)
			}
			for _, k := range keys {
				if key == 0 || k > after {
					m.Memory().WriteUint32Le(next, k)
					return 0
				}
			}
			return -2
		default:
			return -22
		}
		return 0
	}).Export("wasm_bpf_map_operate").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, obj uint64) int32 {
		h.calls = append(h.calls, "close")
		return 0
	}).Export("wasm_close_bpf_object").
		Instantiate(ctx)
	return err
}

// runGuest runs a module against the fake host; it returns stdout, stderr
// and the exit code.
func runGuest(t *testing.T, wasm []byte, h *fakeHost) (string, string, uint32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	if err := h.instantiate(ctx, r); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().WithStdout(&stdout).WithStderr(&stderr).WithArgs("guest").
		WithSysWalltime().WithSysNanotime()
	_, err := r.InstantiateWithConfig(ctx, wasm, cfg)
	code := uint32(0)
	var ee *sys.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String(), code
}

// record lays out a struct value from the package's export type.
func record(t *testing.T, et *packager.ExportType, vals map[string]any) []byte {
	t.Helper()
	rec := make([]byte, et.Size)
	for _, m := range et.Members {
		v, ok := vals[m.Name]
		if !ok {
			continue
		}
		switch v := v.(type) {
		case int:
			switch m.Size {
			case 4:
				binary.LittleEndian.PutUint32(rec[m.Offset:], uint32(v))
			case 8:
				binary.LittleEndian.PutUint64(rec[m.Offset:], uint64(v))
			default:
				t.Fatalf("%s: %d-byte integer", m.Name, m.Size)
			}
		case string:
			copy(rec[m.Offset:m.Offset+m.Size], v)
		}
		delete(vals, m.Name)
	}
	if len(vals) > 0 {
		t.Fatalf("%s has no members %v", et.Name, vals)
	}
	return rec
}

type wasmExample struct {
	dir, guest, name, lang string
	imports                []string
}

var wasmExamples = []wasmExample{
	{"wasm-execsnoop-c", "main.c", "execsnoop", "C", []string{"wasm_load_bpf_object", "wasm_attach_bpf_program", "wasm_bpf_map_fd_by_name", "wasm_bpf_buffer_poll", "wasm_close_bpf_object"}},
	{"wasm-execsnoop-go", "main.go", "execsnoop", "Go", []string{"wasm_load_bpf_object", "wasm_attach_bpf_program", "wasm_bpf_map_fd_by_name", "wasm_bpf_buffer_poll", "wasm_close_bpf_object"}},
	{"wasm-counter", "main.c", "counter", "C", []string{"wasm_load_bpf_object", "wasm_attach_bpf_program", "wasm_bpf_map_fd_by_name", "wasm_bpf_map_operate"}},
}

func buildWasmExample(t *testing.T, ex wasmExample) (*WasmResult, []byte, *packager.Meta) {
	t.Helper()
	testenv.BPFBuild(t)
	needWasmC(t)
	if ex.lang == "Go" {
		needGo(t)
	}
	out := t.TempDir()
	res, err := BuildWasm(context.Background(), &WasmOptions{
		Options: Options{OutDir: out, CacheDir: sharedCache, Stderr: testWriter{t}},
		Guest:   filepath.Join("..", "examples", ex.dir, ex.guest),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != ex.name || res.Lang != ex.lang || res.Wasm != filepath.Join(out, ex.name+".wasm") {
		t.Errorf("result %s %s %s, want %s %s in %s", res.Name, res.Lang, res.Wasm, ex.name, ex.lang, out)
	}
	for _, f := range []string{ex.name + ".bpf.o", ex.name + ".skel.json", "package.json", ex.name + ".wasm"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("output %s: %v", f, err)
		}
	}
	data, err := os.ReadFile(res.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != res.Size || !bytes.HasPrefix(data, []byte("\x00asm\x01\x00\x00\x00")) {
		t.Fatalf("%s: %d bytes (result says %d), header %x", res.Wasm, len(data), res.Size, data[:min(8, len(data))])
	}
	mod, err := wasmbin.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range ex.imports {
		if !mod.ImportsFunc("wasm_bpf", imp) {
			t.Errorf("%s does not import wasm_bpf.%s", res.Wasm, imp)
		}
	}
	for _, imp := range mod.Imports {
		if imp.Module != "wasm_bpf" && imp.Module != "wasi_snapshot_preview1" {
			t.Errorf("%s imports %s.%s, which ecli does not provide", res.Wasm, imp.Module, imp.Name)
		}
	}
	wantExports := map[string]byte{"_start": wasmbin.KindFunc, "memory": wasmbin.KindMemory}
	if ex.lang == "C" {
		wantExports["__indirect_function_table"] = wasmbin.KindTable
	}
	for name, kind := range wantExports {
		if k, ok := mod.Exports[name]; !ok || k != kind {
			t.Errorf("%s: export %s missing or of kind %d, want %d", res.Wasm, name, k, kind)
		}
	}
	skel, err := os.ReadFile(filepath.Join(out, ex.name+".skel.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := packager.UnmarshalMeta(skel)
	if err != nil {
		t.Fatal(err)
	}
	return res, data, m
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestBuildWasmExecsnoop builds the C and Go execsnoop guests and runs them
// against a fake host: both load the embedded object, attach handle_exec,
// and print one line per ring buffer record (C through its callback, Go in
// pull mode), until a poll fails.
func TestBuildWasmExecsnoop(t *testing.T) {
	for _, ex := range wasmExamples[:2] {
		t.Run(ex.lang, func(t *testing.T) {
			res, wasm, m := buildWasmExample(t, ex)
			et := m.ExportType("event")
			if et == nil {
				t.Fatalf("no export type event in %+v", m.ExportTypes)
			}
			h := &fakeHost{timeouts: 1, records: [][]byte{
				record(t, et, map[string]any{"pid": 42, "ppid": 1, "uid": 1000, "ts_ns": 1 << 40, "comm": "bash", "filename": "/bin/true"}),
				// A full comm has no NUL.
				record(t, et, map[string]any{"pid": 43, "ppid": 42, "comm": "0123456789abcdef", "filename": "/usr/bin/env"}),
			}}
			stdout, stderr, code := runGuest(t, wasm, h)
			want := "pid=42 ppid=1 comm=bash file=/bin/true\npid=43 ppid=42 comm=0123456789abcdef file=/usr/bin/env\n"
			if stdout != want {
				t.Errorf("stdout:\n%s\nwant:\n%s\nstderr:\n%s", stdout, want, stderr)
			}
			if code != 1 || !strings.Contains(stderr, "-4") {
				t.Errorf("exit %d, stderr %q; want 1 and the poll error -4", code, stderr)
			}
			obj, _ := os.ReadFile(res.BPF.Outputs[0].Object)
			if !bytes.Equal(h.object, obj) {
				t.Errorf("the guest loaded %d bytes, not the %d of %s", len(h.object), len(obj), res.BPF.Outputs[0].Object)
			}
			if !slices.Equal(h.attached, []string{"handle_exec@"}) {
				t.Errorf("attached %q, want handle_exec with no target", h.attached)
			}
			pull := ex.lang == "Go"
			if len(h.calls) == 0 || h.calls[0] != fmt.Sprintf("poll fd=3 fn=%v", !pull) {
				t.Errorf("calls %q: want polls of fd 3 with a callback only for C", h.calls)
			}
			if h.calls[len(h.calls)-1] != "close" {
				t.Errorf("the guest did not close the object: %q", h.calls)
			}
		})
	}
}

// TestBuildWasmCounter builds the counter guest and runs one round of it
// against a fake hash map: next_key walks it, lookup reads it, the busiest
// processes are printed, active counters are reset with update(EXIST) and
// idle ones deleted.
func TestBuildWasmCounter(t *testing.T) {
	_, wasm, m := buildWasmExample(t, wasmExamples[2])
	et := m.ExportType("counter")
	if et == nil {
		t.Fatalf("no export type counter in %+v", m.ExportTypes)
	}
	counter := func(n int, comm string) []byte {
		return record(t, et, map[string]any{"syscalls": n, "comm": comm})
	}
	h := &fakeHost{valSize: et.Size, kv: map[uint32][]byte{
		100: counter(50, "busy"), 200: counter(0, "idle"), 300: counter(7, "some"),
	}}
	stdout, stderr, code := runGuest(t, wasm, h)
	if code != 0 {
		t.Errorf("exit %d\nstderr:\n%s", code, stderr)
	}
	lines := strings.Split(stdout, "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "PID") ||
		strings.Join(strings.Fields(lines[1]), " ") != "100 busy 50" ||
		strings.Join(strings.Fields(lines[2]), " ") != "300 some 7" ||
		lines[3] != "-- 3 processes: 2 counters reset, 1 idle removed" {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	want := map[uint32][]byte{100: counter(0, "busy"), 300: counter(0, "some")}
	if len(h.kv) != len(want) || !bytes.Equal(h.kv[100], want[100]) || !bytes.Equal(h.kv[300], want[300]) {
		t.Errorf("map after a round: %v, want %v", h.kv, want)
	}
	var ops []string
	for _, c := range h.calls {
		if !strings.HasPrefix(c, "lookup") {
			ops = append(ops, c)
		}
	}
	sort.Strings(ops)
	if !slices.Equal(ops, []string{"delete 200", "update 100 flags=2", "update 300 flags=2"}) {
		t.Errorf("map writes %q", ops)
	}
}

// TestBuildWasmGoOwnModule: a Go guest with its own go.mod gets eccwasm
// from ecc (a replace in a copy of its go.mod); its folder is not touched.
func TestBuildWasmGoOwnModule(t *testing.T) {
	testenv.BPFBuild(t)
	needGo(t)
	dir := t.TempDir()
	ex := filepath.Join("..", "examples", "wasm-execsnoop-go")
	for _, f := range []string{"execsnoop.bpf.c", "execsnoop.h", "main.go"} {
		b, err := os.ReadFile(filepath.Join(ex, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	mod := []byte("module example.com/snoop\n\ngo 1.23\n")
	os.WriteFile(filepath.Join(dir, "go.mod"), mod, 0o644)
	res, err := BuildWasm(context.Background(), &WasmOptions{
		Options: Options{CacheDir: sharedCache, Stderr: testWriter{t}},
		Guest:   filepath.Join(dir, "main.go"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Wasm != filepath.Join(dir, "execsnoop.wasm") {
		t.Errorf("wasm at %s, want in the guest's folder", res.Wasm)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "go.mod")); !bytes.Equal(b, mod) {
		t.Errorf("the guest's go.mod changed:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, wasmgen.GoFileName("execsnoop"))); err == nil {
		t.Error("the generated Go file was left in the guest's folder")
	}
}

func TestBuildWasmErrors(t *testing.T) {
	write := func(dir string, files ...string) {
		for _, f := range files {
			os.WriteFile(filepath.Join(dir, f), []byte("int main(void) { return 0; }\n"), 0o644)
		}
	}
	for _, c := range []struct {
		name  string
		files []string
		guest string
		bpf   string
		want  string
	}{
		{"no guest", nil, "", "", "no Wasm guest given"},
		{"missing guest", nil, "main.c", "", "no such file"},
		{"bpf as guest", []string{"x.bpf.c"}, "x.bpf.c", "", "is the BPF program"},
		{"not C or Go", []string{"main.rs"}, "main.rs", "", "neither C (.c) nor Go (.go)"},
		{"no bpf", []string{"main.c"}, "main.c", "", "no BPF program (*.bpf.c) in "},
		{"two bpf", []string{"main.c", "a.bpf.c", "b.bpf.c"}, "main.c", "", "several BPF programs in "},
		{"folder guest", []string{"main.c"}, ".", "", "no BPF program (*.bpf.c) in "},
		{"ambiguous folder", []string{"main.c", "main.go"}, ".", "", "without one main.c or main.go"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			write(dir, c.files...)
			guest := c.guest
			if guest != "" {
				guest = filepath.Join(dir, guest)
			}
			_, err := BuildWasm(context.Background(), &WasmOptions{Guest: guest, Options: Options{Source: c.bpf, CacheDir: sharedCache}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if c.name == "two bpf" && !strings.Contains(err.Error(), "a.bpf.c, b.bpf.c") {
				t.Errorf("error %v does not name the programs", err)
			}
			if strings.Contains(c.want, " in ") && !strings.Contains(err.Error(), dir) {
				t.Errorf("error %v does not name the folder", err)
			}
		})
	}
	t.Run("two arches", func(t *testing.T) {
		dir := t.TempDir()
		write(dir, "main.c", "x.bpf.c")
		_, err := BuildWasm(context.Background(), &WasmOptions{Guest: filepath.Join(dir, "main.c"),
			Options: Options{CacheDir: sharedCache, Arches: []Arch{HostArch(), HostArch()}}})
		if err == nil || !strings.Contains(err.Error(), "one --arch") {
			t.Fatalf("error %v", err)
		}
	})
}

// TestBuildWasmGuestErrors: a guest that does not compile leaves no
// NAME.wasm behind and says which file failed.
func TestBuildWasmGuestErrors(t *testing.T) {
	testenv.BPFBuild(t)
	needWasmC(t)
	ex := filepath.Join("..", "examples", "wasm-counter")
	for _, c := range []struct {
		guest, text, want string
		needGo            bool
	}{
		{"main.c", "#include \"counter.wasm.h\"\nint main(void) { return undefined_thing; }\n", "clang failed to compile", false},
		{"main.go", "package main\n\nfunc main() { undefinedThing() }\n", "go build of", true},
		{"main.go", "package notmain\n", "a Wasm guest is a command: package main", true},
	} {
		t.Run(c.want, func(t *testing.T) {
			if c.needGo {
				needGo(t)
			}
			dir := t.TempDir()
			for _, f := range []string{"counter.bpf.c", "counter.h"} {
				b, _ := os.ReadFile(filepath.Join(ex, f))
				os.WriteFile(filepath.Join(dir, f), b, 0o644)
			}
			os.WriteFile(filepath.Join(dir, c.guest), []byte(c.text), 0o644)
			var diag bytes.Buffer
			_, err := BuildWasm(context.Background(), &WasmOptions{Guest: filepath.Join(dir, c.guest),
				Options: Options{CacheDir: sharedCache, Stderr: &diag}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q\n%s", err, c.want, diag.String())
			}
			if _, err := os.Stat(filepath.Join(dir, "counter.wasm")); err == nil {
				t.Error("a failed build left counter.wasm")
			}
		})
	}
}

func TestAutoExportHeader(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "x.bpf.c")
	os.WriteFile(filepath.Join(dir, "x.h"), []byte("struct e { int a; };\n"), 0o644)
	for text, want := range map[string]string{
		"#include \"x.h\"\n":          filepath.Join(dir, "x.h"),
		"  #  include \"x.h\" // e\n": filepath.Join(dir, "x.h"),
		"#include \"y.h\"\n":          "",
		"// #include \"x.h\"\n":       "",
	} {
		os.WriteFile(src, []byte(text), 0o644)
		if got := autoExportHeader(src); got != want {
			t.Errorf("%q: header %q, want %q", text, got, want)
		}
	}
}

// TestWasmToolchainMissing: a clang without wasm32 support (as it answers
// -print-file-name and friends when the files are not installed) gets an
// error naming what is missing and the packages to install.
func TestWasmToolchainMissing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "clang-19")
	script := `#!/bin/sh
case "$2" in
-print-prog-name=wasm-ld) echo wasm-ld ;;
-print-file-name=libc.a) echo libc.a ;;
-print-libgcc-file-name) echo ` + dir + `/lib/wasi/libclang_rt.builtins-wasm32.a ;;
esac
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	cl := &Clang{Path: p, Version: "19.1.7", Major: 19}
	missing := wasmToolchainMissing(cl)
	if !slices.Equal(missing, []string{"wasm-ld (lld)", "libc.a (wasi-libc)", "libclang_rt.builtins-wasm32.a (compiler-rt for wasm32)"}) {
		t.Errorf("missing %q", missing)
	}
	err := &WasmToolchainError{Clang: cl, Missing: missing}
	if !strings.Contains(err.Error(), "clang 19.1.7 cannot build wasm32-wasi programs") ||
		!strings.HasSuffix(err.Error(), "install them: apt-get install wasi-libc lld-19 libclang-rt-19-dev-wasm32") {
		t.Errorf("error %q", err)
	}
}
