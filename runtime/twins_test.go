package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/kimage"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
)

// markerPrelude is the start of the test programs that report which of
// their programs fired: emit(marker) sends {marker, pid} to the ring
// buffer events, for the children of --parent only.
const markerPrelude = prelude + `#include <bpf/bpf_core_read.h>
#include "ecc.h"

struct marker_event {
	int marker;
	int pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");
ECC_EXPORT(events, struct marker_event);

/// Parent of the processes to report
/// @cmdarg {"default": 0, "long": "parent"}
const volatile int parent = 0;

static __always_inline int emit(int marker)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct marker_event *e;

	if (BPF_CORE_READ(task, real_parent, tgid) != parent)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->marker = marker;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
`

// twinSource is one hook written three ways, each sending an event with
// its own marker (1 tp_btf, 2 raw_tp, 3 tp) for the test's children only.
// PFX prefixes the program names (unique per variant, to find them among
// the kernel's programs); BTF_BODY and RAW_BODY can make a twin fail.
const twinSource = markerPrelude + `
SEC("tp_btf/sched_process_exec")
int BPF_PROG(PFX_btf)
{
	BTF_BODY
	return emit(1);
}

SEC("raw_tp/sched_process_exec")
int PFX_raw(unsigned long long *ctx)
{
	RAW_BODY
	return emit(2);
}

SEC("tp/sched/sched_process_exec")
int PFX_tp(void *ctx)
{
	return emit(3);
}
`

// beyondArgs reads a sixth argument of a three-argument tracepoint: the
// verifier rejects it in a tp_btf program at load, and the kernel refuses
// to attach a raw_tp program that does it.
const beyondArgs = `if (((volatile unsigned long long *)ctx)[5] == 12345) return 1;`

// kernelPrograms lists the names of the kernel's loaded BPF programs.
func kernelPrograms(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	id := ebpf.ProgramID(0)
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return names
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		if info, err := p.Info(); err == nil {
			names[info.Name] = true
		}
		p.Close()
	}
}

// hostBTF is this kernel's whole BTF as a package would carry it.
func hostBTF(t *testing.T) packager.KernelBTF {
	t.Helper()
	k, err := kimage.Read(kimage.SysfsBTF)
	if err != nil {
		t.Fatal(err)
	}
	return packager.KernelBTF{Release: k.Release, Arch: k.Arch, Data: k.BTF}
}

// Of tp_btf/X, raw_tp/X and tp/G/X, exactly one runs: the best that loads
// and attaches. Only what is needed is loaded.
func TestTwinsTracepoint(t *testing.T) {
	const n = 5
	for _, c := range []struct {
		name         string
		prefix       string
		btf, raw     string
		marker       int
		loaded       []string // programs in the kernel while it runs
		notLoaded    []string
		verbose      string // the -v line
		unexpectedly string // must not be in stderr
		noKernelBTF  bool   // as on a kernel without BTF, the package bringing it for CO-RE
	}{
		{name: "best", prefix: "twa", marker: 1,
			loaded: []string{"twa_btf"}, notLoaded: []string{"twa_raw", "twa_tp"},
			verbose: "ecli: twa_btf: tp_btf/sched_process_exec (raw_tp/sched_process_exec twin not attached; tp/sched/sched_process_exec twin not attached)"},
		{name: "tp_btf fails to load", prefix: "twb", btf: beyondArgs, marker: 2,
			loaded: []string{"twb_raw"}, notLoaded: []string{"twb_btf", "twb_tp"},
			verbose: "ecli: twb_raw: raw_tp/sched_process_exec (tp_btf/sched_process_exec twin failed: rejected by the verifier"},
		{name: "raw_tp fails to attach too", prefix: "twc", btf: beyondArgs, raw: beyondArgs, marker: 3,
			loaded: []string{"twc_tp"}, notLoaded: []string{"twc_btf"},
			verbose: "raw_tp/sched_process_exec twin failed: attach program twc_raw (raw tracepoint sched_process_exec): invalid argument"},
		// Without the kernel's BTF tp_btf cannot attach, whatever BTF the
		// package brings: refused before the kernel is asked, raw_tp runs.
		{name: "no kernel BTF", prefix: "twd", noKernelBTF: true, marker: 2,
			loaded: []string{"twd_raw"}, notLoaded: []string{"twd_btf", "twd_tp"},
			verbose: "ecli: twd_raw: raw_tp/sched_process_exec (tp_btf/sched_process_exec twin failed: tp_btf programs attach through the kernel's own BTF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code := strings.NewReplacer("PFX_", c.prefix+"_", "BTF_BODY", c.btf, "RAW_BODY", c.raw).Replace(twinSource)
			src := buildSource(t, "twins_"+c.prefix, code)
			if c.noKernelBTF {
				src.Package.BTF = []packager.KernelBTF{hostBTF(t)}
			}
			errs := &testenv.SyncBuffer{}
			r := start(t, src, []string{"--parent", fmt.Sprint(os.Getpid())}, Options{JSON: true, Verbose: true, NoKernelBTF: c.noKernelBTF})
			errs = r.errs
			progs := kernelPrograms(t)
			for _, p := range c.loaded {
				if !progs[p] {
					t.Errorf("%s is not loaded", p)
				}
			}
			for _, p := range c.notLoaded {
				if progs[p] {
					t.Errorf("%s is loaded, but it is not needed", p)
				}
			}
			for range n {
				if err := exec.Command("/bin/true").Run(); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(r.out.JSONLines()) < n && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond) // any extra event would show up by now
			r.stop(t)
			var markers []int64
			for _, m := range r.out.JSONLines() {
				if _, ok := m["marker"]; ok {
					markers = append(markers, num(m["marker"]))
				}
			}
			if len(markers) != n {
				t.Errorf("%d events %v, want exactly %d", len(markers), markers, n)
			}
			for _, m := range markers {
				if m != int64(c.marker) {
					t.Errorf("event from twin %d, want all from twin %d (%v)", m, c.marker, markers)
					break
				}
			}
			if !strings.Contains(errs.String(), c.verbose) {
				t.Errorf("stderr lacks %q:\n%s", c.verbose, errs.String())
			}
			t.Logf("stderr:\n%s", errs.String())
			if strings.Contains(errs.String(), "warning") {
				t.Errorf("a twin that works needs no warning:\n%s", errs.String())
			}
		})
	}
}
