package progscan_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager/progscan"
)

// multiarch is Debian's folder of <asm/types.h> for the host.
func multiarch() string {
	switch runtime.GOARCH {
	case "arm64":
		return "aarch64-linux-gnu"
	case "amd64":
		return "x86_64-linux-gnu"
	}
	return runtime.GOARCH + "-linux-gnu"
}

func compile(t *testing.T, src string) *ebpf.CollectionSpec { return compileB(t, src) }

func compileB(t testing.TB, src string) *ebpf.CollectionSpec {
	t.Helper()
	clang := testenv.Clang(t)
	obj := filepath.Join(t.TempDir(), "prog.o")
	out, err := exec.Command(clang, "-g", "-O2", "-target", "bpf", "-I/usr/include/"+multiarch(), "-c", src, "-o", obj).CombinedOutput()
	if err != nil {
		t.Fatalf("clang: %v\n%s", err, out)
	}
	spec, err := ebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestRoles(t *testing.T) {
	spec := compile(t, "testdata/uses.bpf.c")
	res := progscan.Scan(spec)
	for name, want := range map[string]progscan.Role{
		"start":  progscan.RoleState,
		"hists":  progscan.RoleResult,
		"counts": progscan.RoleResult,
		"filter": progscan.RoleConfig,
		"heap":   progscan.RoleScratch,
		// A record from a ring buffer or from a heap, libbpf-tools' compat.
		"compat_heap": progscan.RoleScratch,
		// Filled, then copied from into a record.
		"path_heap": progscan.RoleScratch,
		// Written by one program, read by another: a hand-off.
		"handoff": progscan.RoleState,
		// Read and written back by the same program: an accumulator.
		"rmw": progscan.RoleResult,
	} {
		if got := res.Maps[name].Role(); got != want {
			t.Errorf("map %s: role %v, want %v (%+v)", name, got, want, res.Maps[name])
		}
	}
	rb := res.Maps["rb"]
	if rb == nil || !slices.Equal(rb.SubmitSizes, []uint64{32}) || rb.UnknownSize {
		t.Errorf("rb: %+v, want one submit of sizeof(struct event) = 32", rb)
	}
	ev := res.Maps["events"]
	if ev == nil || !slices.Equal(ev.SubmitSizes, []uint64{32}) || !ev.UnknownSize {
		t.Errorf("events: %+v, want an output of a variable size and one of 32 bytes", ev)
	}
	if !slices.Equal(res.Printk, []string{"on_switch"}) {
		t.Errorf("Printk = %v", res.Printk)
	}

	// Globals: total and ghists are written, targ_pid (rodata) and
	// unused_flag (only read) are not.
	written := func(name string) bool {
		vs := spec.Variables[name]
		ds := spec.Maps[vs.SectionName].Value.(*btf.Datasec)
		for _, v := range ds.Vars {
			if v.Type.TypeName() == name {
				return res.Maps[vs.SectionName].WrittenAt(v.Offset, v.Size)
			}
		}
		t.Fatalf("no %s in %s", name, vs.SectionName)
		return false
	}
	for name, want := range map[string]bool{"total": true, "ghists": true, "unused_flag": false, "targ_pid": false} {
		if got := written(name); got != want {
			t.Errorf("global %s written = %v, want %v", name, got, want)
		}
	}
}

// The scan runs on every ecli start and ecc build.
func BenchmarkScan(b *testing.B) {
	spec := compileB(b, "testdata/uses.bpf.c")
	n := 0
	for _, p := range spec.Programs {
		n += len(p.Instructions)
	}
	b.ReportMetric(float64(n), "insns")
	b.ResetTimer()
	for b.Loop() {
		progscan.Scan(spec)
	}
}
