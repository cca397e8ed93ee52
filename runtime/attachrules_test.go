package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/runtime/attach"
)

const uprobeSource = markerPrelude + `
/* libbpf-tools style: a function alone, the binary comes from user space. */
SEC("uprobe/ecc_target_func")
int up_func(struct pt_regs *ctx) { return emit(1); }

SEC("uretprobe/ecc_target_other")
int ret_other(struct pt_regs *ctx) { return emit(2); }

/* No target at all: skipped with a warning. */
SEC("uprobe")
int bare_one(struct pt_regs *ctx) { return emit(3); }
`

// Sections naming a function alone take the binary of --uprobe BINARY; a
// bare name is found in the working folder; a bare SEC("uprobe") without
// target is skipped with a warning while the rest runs; each probe fires
// on its own function (4 calls of ecc_target_func, 3 of ecc_target_other).
func TestUprobeFunctionAlone(t *testing.T) {
	src := buildSource(t, "upalone", uprobeSource)
	dir := t.TempDir()
	target := filepath.Join(dir, "ecc-upalone-target")
	if out, err := exec.Command(testenv.Tool(t, "gcc"), "-O1", "-o", target, "attach/testdata/target.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	t.Chdir(dir)
	r := start(t, src, []string{"--parent", fmt.Sprint(os.Getpid())},
		Options{JSON: true, Verbose: true, Attach: attach.Options{Uprobe: []string{"ecc-upalone-target"}}})
	cmd := exec.Command(target, "4", "3")
	cmd.Stdin = strings.NewReader("g")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("target: %v\n%s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(r.out.JSONLines()) < 7 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	r.stop(t)
	count := map[int64]int{}
	for _, m := range r.out.JSONLines() {
		if _, ok := m["marker"]; ok {
			count[num(m["marker"])]++
		}
	}
	if count[1] != 4 || count[2] != 3 || count[3] != 0 {
		t.Errorf("events by probe %v, want 4 from up_func, 3 from ret_other, none from bare_one", count)
	}
	stderr := r.errs.String()
	for _, want := range []string{
		"ecli: attached up_func (uprobe/ecc_target_func): uprobe " + target + ":ecc_target_func",
		"ecli: attached ret_other (uretprobe/ecc_target_other): uretprobe " + target + ":ecc_target_other",
		"ecli: warning: skipping program bare_one (SEC(\"uprobe\")): bare SEC(\"uprobe\") names no target (--uprobe ecc-upalone-target gives a binary but no function): pass --uprobe bare_one=BINARY:SYMBOL[+OFFSET]",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// Without --uprobe the function-alone programs say which flag to pass;
// with many bare probes, a BINARY:SYMBOL without PROG= is a usage error.
func TestUprobeTargetErrors(t *testing.T) {
	src := buildSource(t, "upalone", uprobeSource)
	err := Run(t.Context(), src.Name, src.Package, nil, &Options{Stdout: &testenv.SyncBuffer{}, Stderr: &testenv.SyncBuffer{}})
	for _, want := range []string{
		"no program could run",
		"program up_func (SEC(\"uprobe/ecc_target_func\")): the section names the function ecc_target_func but no binary: pass --uprobe BINARY (e.g. --uprobe /bin/bash), or --uprobe up_func=BINARY:ecc_target_func",
		"program bare_one (SEC(\"uprobe\")): bare SEC(\"uprobe\") names no target",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}

	memleak := buildSource(t, "memleakish", prelude+`
SEC("uprobe") int malloc_enter(struct pt_regs *ctx) { return 0; }
SEC("uretprobe") int malloc_exit(struct pt_regs *ctx) { return 0; }
SEC("uprobe") int free_enter(struct pt_regs *ctx) { return 0; }
`)
	err = Run(t.Context(), memleak.Name, memleak.Package, nil, &Options{Stdout: &testenv.SyncBuffer{}, Stderr: &testenv.SyncBuffer{},
		Attach: attach.Options{Uprobe: []string{"libc.so.6:malloc"}}})
	want := "--uprobe libc.so.6:malloc names no program, but the package has 3 bare uprobe programs (free_enter, malloc_enter, malloc_exit)"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %v, want one line with %q", err, want)
	}
}

// Maps that leave max_entries to user space get DefaultMaxEntries, or
// what --max-entries says.
func TestMaxEntries(t *testing.T) {
	src := buildSource(t, "maxent", prelude+`
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, u32);
	__type(value, u64);
} eccme_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, u32);
	__type(value, u64);
} eccme_percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} eccme_sized SEC(".maps");

SEC("tp/syscalls/sys_enter_getpid")
int count(void *ctx)
{
	u32 k = 0;
	u64 one = 1, *v = bpf_map_lookup_elem(&eccme_counts, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&eccme_counts, &k, &one, BPF_ANY);
	v = bpf_map_lookup_elem(&eccme_percpu, &k);
	if (v)
		*v += 1;
	bpf_map_update_elem(&eccme_sized, &k, &one, BPF_ANY);
	return 0;
}
`)
	for _, c := range []struct {
		flags []string
		want  map[string]uint32
	}{
		{nil, map[string]uint32{"eccme_counts": 10240, "eccme_percpu": 10240, "eccme_sized": 64}},
		{[]string{"500"}, map[string]uint32{"eccme_counts": 500, "eccme_percpu": 500, "eccme_sized": 64}},
		{[]string{"eccme_counts=77", "eccme_sized=128"}, map[string]uint32{"eccme_counts": 77, "eccme_percpu": 10240, "eccme_sized": 128}},
	} {
		t.Run(strings.Join(c.flags, ","), func(t *testing.T) {
			r := start(t, src, nil, Options{JSON: true, MaxEntries: c.flags})
			got := kernelMaps(t)
			r.stop(t)
			for name, want := range c.want {
				if got[name] != want {
					t.Errorf("map %s: max_entries %d, want %d", name, got[name], want)
				}
			}
		})
	}
	err := Run(t.Context(), src.Name, src.Package, nil, &Options{Stdout: &testenv.SyncBuffer{}, Stderr: &testenv.SyncBuffer{}, MaxEntries: []string{"nope=5"}})
	if err == nil || !strings.Contains(err.Error(), "--max-entries nope=5: the object has no map nope (it has ") {
		t.Errorf("unknown map: %v", err)
	}
}

// kernelMaps maps the names of the kernel's BPF maps to their sizes.
func kernelMaps(t *testing.T) map[string]uint32 {
	t.Helper()
	out := map[string]uint32{}
	id := ebpf.MapID(0)
	for {
		next, err := ebpf.MapGetNextID(id)
		if err != nil {
			return out
		}
		id = next
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			continue
		}
		if info, err := m.Info(); err == nil {
			out[info.Name] = info.MaxEntries
		}
		m.Close()
	}
}

// Sections cilium/ebpf loads but libbpf does not know (SEC(".xdp")) run as
// their type; sections naming no valid target are loaded and noted;
// placeholder targets are skipped; the rest runs.
func TestLegacyAndUntargetedSections(t *testing.T) {
	testenv.Exclusive(t, "xdp-lo")
	src := buildSource(t, "legacy", prelude+`
SEC(".xdp")
int xdp_legacy(struct xdp_md *ctx) { return XDP_PASS; }

SEC("tp/unused")
int tail_target(void *ctx) { return 0; }

SEC("fentry/dummy_fentry")
int BPF_PROG(fe_dummy) { return 0; }

SEC("kprobe/dummy_kprobe")
int BPF_KPROBE(kp_dummy) { return 0; }

SEC("tp/syscalls/sys_enter_getpid")
int real_tp(void *ctx) { return 0; }
`)
	r := start(t, src, nil, Options{Verbose: true, Attach: attach.Options{IfName: "lo"}})
	r.stop(t)
	stderr := r.errs.String()
	for _, want := range []string{
		"ecli: xdp_legacy: SEC(\".xdp\") is read as xdp (not a libbpf section name)",
		"ecli: attached xdp_legacy (.xdp): xdp on lo",
		"ecli: attached real_tp (tp/syscalls/sys_enter_getpid)",
		"ecli: note: program tail_target (tp/unused) is loaded but not attached automatically: the section names no valid target: malformed tracepoint \"unused\"",
		"ecli: warning: skipping program fe_dummy (SEC(\"fentry/dummy_fentry\")): dummy_fentry is a placeholder target: the tool's own user space sets the real one",
		"ecli: warning: skipping program kp_dummy (SEC(\"kprobe/dummy_kprobe\")): dummy_kprobe is a placeholder target",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "unknown section") {
		t.Errorf("unknown section:\n%s", stderr)
	}
}
