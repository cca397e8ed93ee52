package compiler

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// TestExamplesLoad builds every example and loads it into the kernel: every
// program must pass the verifier.
func TestExamplesLoad(t *testing.T) {
	testenv.BPFBuild(t)
	testenv.Kernel(t)
	rlimit.RemoveMemlock() // EPERM without CAP_SYS_RESOURCE; memory is cgroup-accounted anyway
	for _, ex := range examples(t) {
		t.Run(ex.name, func(t *testing.T) {
			res, stderr, err := build(t, &Options{Source: ex.src, ExportHeader: ex.hdr})
			if err != nil {
				t.Fatalf("build: %v\n%s", err, stderr)
			}
			obj, err := os.ReadFile(res.Outputs[0].Object)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
			if err != nil {
				t.Fatal(err)
			}
			coll, err := ebpf.NewCollection(spec)
			if err != nil {
				var ve *ebpf.VerifierError
				if errors.As(err, &ve) {
					t.Fatalf("verifier: %+v", ve)
				}
				t.Fatal(err)
			}
			defer coll.Close()
			if len(coll.Programs) != len(spec.Programs) || len(coll.Programs) == 0 {
				t.Fatalf("loaded %d of %d programs", len(coll.Programs), len(spec.Programs))
			}
		})
	}
}

// refusedErr reports whether a load error is the kernel refusing the program
// type (rather than, say, a verifier rejection of bad code).
func refusedErr(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.Errno(524)) || // ENOTSUPP
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, ebpf.ErrNotSupported) ||
		errors.Is(err, syscall.EINVAL) && strings.Contains(err.Error(), "attach")
}

// TestRefusedProgramTypes loads one program of each family on its own and
// reports what this kernel refuses, instead of hiding it. Tracepoint-style
// programs must load; the others (fentry, lsm on this kernel) may only fail
// with a "not supported" kind of error.
func TestRefusedProgramTypes(t *testing.T) {
	testenv.BPFBuild(t)
	testenv.Kernel(t)
	res, stderr, err := build(t, &Options{Source: "testdata/refused.bpf.c", OutDir: t.TempDir()})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, stderr)
	}
	spec, err := ebpf.LoadCollectionSpec(res.Outputs[0].Object)
	if err != nil {
		t.Fatal(err)
	}
	mustLoad := map[string]bool{"tp_prog": true, "raw_tp_prog": true, "tp_btf_prog": true, "perf_prog": true}
	var report []string
	var names []string
	for n := range spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ps := spec.Programs[name]
		prog, err := ebpf.NewProgram(ps)
		status := "loads"
		if err == nil {
			prog.Close()
		} else {
			status = "refused by this kernel: " + firstLine(err.Error())
			if mustLoad[name] {
				t.Errorf("%s (%s) must load here: %v", name, ps.SectionName, err)
			} else if !refusedErr(err) {
				t.Errorf("%s (%s) failed with an error that is not a refusal: %v", name, ps.SectionName, err)
			}
		}
		report = append(report, fmt.Sprintf("%-12s %-26s %s", name, ps.SectionName, status))
	}
	t.Logf("program types on this kernel:\n%s", strings.Join(report, "\n"))
}
