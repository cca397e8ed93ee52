package runtime

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager/progscan"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/loader"
	"github.com/ecc-bpf/ecc/source"
)

// buildSource compiles a C source written by the test.
func buildSource(t *testing.T, name, code string) *source.Source {
	t.Helper()
	src := filepath.Join(t.TempDir(), name+".bpf.c")
	os.WriteFile(src, []byte(code), 0o644)
	return buildPackage(t, src, "")
}

const prelude = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
char LICENSE[] SEC("license") = "GPL";
`

// Programs the kernel refuses are skipped with a warning when others run
// (libbpf-tools' alternative pairs: fentry vs tracepoint, kprobe vs tp).
func TestSkipsRefusedPrograms(t *testing.T) {
	src := buildSource(t, "pairs", prelude+`
SEC("fentry/do_nanosleep")
int BPF_PROG(fentry_sleep) { return 0; }
SEC("kprobe/do_nanosleep")
int BPF_KPROBE(kprobe_sleep) { return 0; }
SEC("tp/syscalls/sys_enter_nanosleep")
int tp_sleep(void *ctx) { return 0; }
`)
	r := start(t, src, nil, Options{})
	r.stop(t)
	stderr := r.errs.String()
	t.Logf("stderr:\n%s", stderr)
	for _, want := range []string{
		"warning: skipping program fentry_sleep (fentry/do_nanosleep): not supported by this kernel",
		"warning: skipping program kprobe_sleep (kprobe/do_nanosleep)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// fentry and kprobe on one function are twins: when neither runs, one
	// line each, nothing else.
	for _, prog := range []string{"fentry_sleep", "kprobe_sleep"} {
		if n := strings.Count(stderr, "program "+prog+" "); n != 1 {
			t.Errorf("%s named on %d lines, want 1:\n%s", prog, n, stderr)
		}
	}
	if strings.Contains(stderr, "MEMLOCK") {
		t.Errorf("misleading MEMLOCK hint shown:\n%s", stderr)
	}
}

// When no program can run, the error names each one and why.
func TestNothingRuns(t *testing.T) {
	src := buildSource(t, "refused", prelude+`
SEC("fentry/do_nanosleep")
int BPF_PROG(fentry_sleep) { return 0; }
SEC("lsm/file_open")
int BPF_PROG(lsm_open, struct file *file) { return 0; }
`)
	err := Run(context.Background(), src.Name, src.Package, nil, &Options{Stdout: &testenv.SyncBuffer{}, Stderr: &testenv.SyncBuffer{}})
	if err == nil {
		t.Skip("this kernel runs fentry and lsm programs")
	}
	for _, want := range []string{"no program could run", "fentry_sleep (fentry/do_nanosleep): not supported by this kernel", "lsm_open (lsm/file_open): not supported by this kernel"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// A helper the kernel takes away (bpf_probe_write_user under lockdown) is
// a kernel limit, said in one line, not a verifier dump.
func TestRefusedHelperIsAKernelLimit(t *testing.T) {
	src := buildSource(t, "writer", prelude+`
SEC("tp/syscalls/sys_enter_getpid")
int writer(void *ctx) {
	char buf[4] = "ecc";
	bpf_probe_write_user((void *)(long)bpf_get_prandom_u32(), buf, sizeof(buf));
	return 0;
}
`)
	err := Run(context.Background(), src.Name, src.Package, nil, &Options{Stdout: &testenv.SyncBuffer{}, Stderr: &testenv.SyncBuffer{}})
	if err == nil {
		t.Skip("this kernel lets programs call bpf_probe_write_user")
	}
	if !strings.Contains(err.Error(), "not supported by this kernel: the kernel refuses helper bpf_probe_write_user") || strings.Contains(err.Error(), "verifier") {
		t.Errorf("error %v: want a not-supported line naming the helper", err)
	}
}

// A verifier rejection shows the log's tail and points to -v.
func TestVerifierErrorTail(t *testing.T) {
	src := buildSource(t, "unsafe", prelude+`
SEC("tp/syscalls/sys_enter_getpid")
int bad(void *ctx) {
	char *p = (char *)(long)bpf_get_prandom_u32();
	return *p; /* dereferences a scalar: the verifier refuses */
}
`)
	err := Run(context.Background(), src.Name, src.Package, nil, &Options{Stdout: &testenv.SyncBuffer{}, Stderr: &testenv.SyncBuffer{}})
	if err == nil || !strings.Contains(err.Error(), "rejected by the verifier") || !strings.Contains(err.Error(), "invalid mem access") {
		t.Fatalf("got %v", err)
	}
	// The rejection is told as the log's tail, and stays cilium/ebpf's
	// *ebpf.VerifierError through every wrap (ProgramError, NothingRuns).
	var ve *ebpf.VerifierError
	var lve *loader.VerifierError
	if !errors.As(err, &ve) || len(ve.Log) == 0 || !errors.As(err, &lve) || !errors.Is(err, ErrNothingRuns) {
		t.Errorf("%#v: the verifier's error is not in the chain", err)
	}
	if n := strings.Count(err.Error(), "\n    "); n > loader.VerifierTail {
		t.Errorf("%d log lines shown, want at most %d", n, loader.VerifierTail)
	}
	verbose := Run(context.Background(), src.Name, src.Package, nil, &Options{Verbose: true, Stdout: &testenv.SyncBuffer{}, Stderr: &testenv.SyncBuffer{}})
	if verbose == nil || strings.Contains(verbose.Error(), "-v shows all") {
		t.Errorf("-v should show the whole log: %v", verbose)
	}
}

// Packages come from a file, a folder, a bare object, a URL or stdin.
func TestOpenSources(t *testing.T) {
	src := buildExample(t, "execsnoop")
	pkgPath := src.Name
	data, err := os.ReadFile(pkgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func(what string, s *source.Source, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(s.Package.Meta.BpfSkel.Progs) != 1 || s.Package.Meta.BpfSkel.Progs[0].Name != "handle_exec" {
			t.Errorf("%s: programs %+v", what, s.Package.Meta.BpfSkel.Progs)
		}
	}
	s, err := source.Open(ctx, filepath.Dir(pkgPath), nil)
	check("folder", s, err)
	s, err = source.Open(ctx, "-", &source.OpenOptions{Stdin: bytes.NewReader(data)})
	check("stdin", s, err)
	s, err = source.Open(ctx, filepath.Join(filepath.Dir(pkgPath), "execsnoop.bpf.o"), nil)
	check("bare object", s, err)
	if s.Package.Meta.BpfSkel.ObjName != "execsnoop_bpf" || len(s.Package.Meta.ExportTypes) != 1 {
		t.Errorf("bare object metadata: %s, %+v", s.Package.Meta.BpfSkel.ObjName, s.Package.Meta.ExportTypes)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/execsnoop/package.json" {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	s, err = source.Open(ctx, srv.URL+"/execsnoop/package.json", &source.OpenOptions{PlainHTTP: true})
	check("url", s, err)
	if _, err := source.Open(ctx, srv.URL+"/missing.json", &source.OpenOptions{PlainHTTP: true}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing URL: %v", err)
	}
	if _, err := source.Open(ctx, "-", &source.OpenOptions{Stdin: strings.NewReader("not json")}); err == nil || !strings.Contains(err.Error(), "-") {
		t.Errorf("junk on stdin: %v", err)
	}
	// And the bare object runs: events decode through the derived metadata.
	s, _ = source.Open(ctx, filepath.Join(filepath.Dir(pkgPath), "execsnoop.bpf.o"), nil)
	r := start(t, s, nil, Options{JSON: true})
	time.Sleep(50 * time.Millisecond)
	os.StartProcess("/bin/true", []string{"true", "bare-object-mark"}, &os.ProcAttr{})
	r.waitFor(t, "an exec event", func(m map[string]any) bool {
		a, _ := m["args"].(string)
		return strings.Contains(a, "bare-object-mark")
	})
}

// The CO-RE cache: a first run stores the relocated instructions, a second
// run uses them without the kernel's BTF, and both decode real events (ppid
// comes from task->real_parent->tgid, a CO-RE read).
func TestCORECache(t *testing.T) {
	src := buildExample(t, "execsnoop")
	t.Setenv("ECC_CACHE_DIR", t.TempDir())
	spec1, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(src.Package.Object))
	if err != nil {
		t.Fatal(err)
	}
	if !loader.Prerelocate(src.Package.Object, spec1, btf.NewCache()) {
		t.Fatal("first prerelocate did not relocate")
	}
	files, _ := filepath.Glob(filepath.Join(loader.CacheDir(), "*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v", files)
	}
	spec2, _ := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(src.Package.Object))
	// A cache hit must not need the kernel's BTF: give it a cache that fails.
	if !loader.Prerelocate(src.Package.Object, spec2, nil) {
		t.Fatal("second prerelocate did not use the cache")
	}
	for name, p := range spec1.Programs {
		if a, b := p.Instructions.String(), spec2.Programs[name].Instructions.String(); a != b {
			t.Errorf("program %s: cached relocation differs from computed", name)
		}
		if n := loader.PendingRelocations(spec2); n != 0 {
			t.Errorf("%d CO-RE relocations left", n)
		}
	}
	for i := 0; i < 2; i++ {
		r := start(t, src, nil, Options{JSON: true})
		mark := "core-cache-" + strconv.Itoa(i)
		exec.Command("/bin/true", mark).Run()
		ev := r.waitFor(t, "exec with "+mark, func(m map[string]any) bool {
			a, _ := m["args"].(string)
			return strings.Contains(a, mark)
		})
		if num(ev["ppid"]) != int64(os.Getpid()) {
			t.Errorf("run %d: ppid %v, want %d (wrong CO-RE offsets?)", i, ev["ppid"], os.Getpid())
		}
		r.stop(t)
	}
}

// eunomia's per-map export_config (enable_multiple_export_types) picks the
// event type by BTF ID.
func TestExportConfigByTypeID(t *testing.T) {
	src := buildSource(t, "multi", prelude+`
#include <ecc.h>
struct a_ev { int pid; int a; };
struct b_ev { int pid; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } as SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } bs SEC(".maps");
ECC_EXPORT(as, struct a_ev);
ECC_EXPORT(bs, struct b_ev);
SEC("tp/sched/sched_process_exec")
int on_exec(void *ctx) { return 0; }
`)
	m := &src.Package.Meta
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(src.Package.Object))
	if err != nil {
		t.Fatal(err)
	}
	// As eunomia writes it: no ecc export_type, only export_config.
	for i := range m.BpfSkel.Maps {
		m.BpfSkel.Maps[i].ExportType = ""
	}
	if !m.EnableMultipleExportTypes {
		t.Fatal("package does not enable multiple export types")
	}
	for mapName, want := range map[string]string{"as": "a_ev", "bs": "b_ev"} {
		typ, err := exportType(m, spec, progscan.Scan(spec), mapName)
		if err != nil || typ == nil || typ.TypeName() != want {
			t.Errorf("map %s: %v %v, want struct %s", mapName, typ, err, want)
		}
	}
}

// Run fills in defaults (os.Stdout, os.Stderr) on its own copy: the
// caller's Options are not modified.
func TestRunKeepsOptions(t *testing.T) {
	src := buildSource(t, "keepopts", prelude+`
SEC("tp/syscalls/sys_enter_getpid")
int keep(void *ctx) { return 0; }
`)
	var out bytes.Buffer
	for _, o := range []*Options{
		{DryRun: true, Stdout: &out, MaxEntries: []string{"64"}, Attach: attach.Options{Uprobe: []string{}}},
		{Duration: 50 * time.Millisecond, Stdout: &out},
	} {
		before := *o
		if err := Run(context.Background(), src.Name, src.Package, nil, o); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*o, before) {
			t.Errorf("Run modified its Options:\n got %+v\nwant %+v", *o, before)
		}
	}
}
