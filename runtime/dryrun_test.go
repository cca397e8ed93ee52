package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/source"
)

// planSource has a program of each kind the plan prints differently:
// attached, a twin in reserve, loaded only, skipped, and a cgroup program.
// Its programs and map are named dryrn_* so that the test can find them
// among the kernel's (other tests run in parallel on this machine).
const planSource = prelude + `
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} dryrn_counts SEC(".maps");

SEC("tp_btf/sched_switch")
int BPF_PROG(dryrn_btf) { return 0; }
SEC("raw_tp/sched_switch")
int dryrn_raw(void *ctx) { return 0; }
SEC("tp/sched/sched_process_exec")
int dryrn_exec(void *ctx)
{
	u32 k = 0;
	u64 *v = bpf_map_lookup_elem(&dryrn_counts, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}
SEC("tp/unused")
int dryrn_tail(void *ctx) { return 0; }
SEC("kprobe/dummy_kprobe")
int BPF_KPROBE(dryrn_dummy) { return 0; }
SEC("cgroup_skb/egress")
int dryrn_egress(struct __sk_buff *skb) { return 1; }
`

// kernelNames lists the names of the BPF programs and maps in the kernel
// that start with prefix (the kernel keeps 15 characters of a name).
func kernelNames(t *testing.T, prefix string) []string {
	t.Helper()
	var names []string
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			break
		}
		id = next
		if p, err := ebpf.NewProgramFromID(id); err == nil {
			if info, err := p.Info(); err == nil && strings.HasPrefix(info.Name, prefix) {
				names = append(names, "program "+info.Name)
			}
			p.Close()
		}
	}
	for id := ebpf.MapID(0); ; {
		next, err := ebpf.MapGetNextID(id)
		if err != nil {
			break
		}
		id = next
		if m, err := ebpf.NewMapFromID(id); err == nil {
			if info, err := m.Info(); err == nil && strings.HasPrefix(info.Name, prefix) {
				names = append(names, "map "+info.Name)
			}
			m.Close()
		}
	}
	return names
}

// --dry-run plans and prints, in text and JSON, and loads nothing.
func TestDryRun(t *testing.T) {
	src := buildSource(t, "dryrn", planSource)
	if n := kernelNames(t, "dryrn_"); len(n) > 0 {
		t.Fatalf("already in the kernel before the test: %v", n)
	}
	cg, err := attach.CgroupRoot()
	if err != nil {
		t.Skip(err)
	}
	opts := attach.Options{Cgroup: cg}

	var out, errs testenv.SyncBuffer
	if err := Run(context.Background(), src.Name, src.Package, nil, &Options{DryRun: true, Attach: opts, Stdout: &out, Stderr: &errs}); err != nil {
		t.Fatalf("dry run: %v\n%s", err, &errs)
	}
	text := out.String()
	for _, want := range []string{
		": dry run, nothing loaded; ecli run would:\n",
		"  dryrn_btf → tp_btf sched_switch\n",
		"  dryrn_raw → raw tracepoint sched_switch (only if dryrn_btf cannot be loaded or attached)\n",
		"  dryrn_exec → tracepoint sched/sched_process_exec\n",
		"  dryrn_egress → cgroup_skb/egress on cgroup " + cg + "\n",
		"  dryrn_tail: load, not attach: the section names no valid target",
		"  dryrn_dummy: skip: dummy_kprobe is a placeholder target",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	if s := errs.String(); s != "" {
		t.Errorf("dry run wrote to stderr:\n%s", s)
	}

	var jout testenv.SyncBuffer
	if err := Run(context.Background(), src.Name, src.Package, nil, &Options{DryRun: true, JSON: true, Attach: opts, Stdout: &jout, Stderr: &errs}); err != nil {
		t.Fatalf("dry run -j: %v", err)
	}
	var plan DryRunPlan
	if err := json.Unmarshal([]byte(jout.String()), &plan); err != nil {
		t.Fatalf("dry run -j: %v\n%s", err, &jout)
	}
	got := map[string]PlannedProgram{}
	for _, p := range plan.Programs {
		got[p.Name] = p
	}
	if p := got["dryrn_egress"]; p.Action != "attach" || p.Kind != "cgroup" || p.Cgroup != cg || p.Section != "cgroup_skb/egress" || p.Type != "CGroupSKB" {
		t.Errorf("dryrn_egress: %+v", p)
	}
	if p := got["dryrn_raw"]; p.Action != "fallback" || len(p.FallbackFor) != 1 || p.FallbackFor[0] != "dryrn_btf" {
		t.Errorf("dryrn_raw: %+v", p)
	}
	if got["dryrn_tail"].Action != "load" || got["dryrn_dummy"].Action != "skip" || got["dryrn_dummy"].Reason == "" || len(plan.Programs) != 6 {
		t.Errorf("plan: %+v", plan.Programs)
	}
	if n := kernelNames(t, "dryrn_"); len(n) > 0 {
		t.Errorf("the dry run left these in the kernel: %v", n)
	}

	// A dry run fails as the run would: without --cgroup.
	err = Run(context.Background(), src.Name, src.Package, nil, &Options{DryRun: true, Stdout: &out, Stderr: &errs})
	if err == nil || !strings.Contains(err.Error(), "pass --cgroup PATH, or --cgroup "+cg+" to attach to the root cgroup") {
		t.Errorf("dry run without --cgroup: %v", err)
	}

	// The real run prints one line per attachment, before attaching, and
	// puts the same programs in the kernel.
	r := start(t, src, nil, Options{Attach: opts})
	during := kernelNames(t, "dryrn_")
	t.Logf("in the kernel while running: %v", during)
	r.stop(t)
	stderr := r.errs.String()
	for _, want := range []string{
		"ecli: dryrn_btf → tp_btf sched_switch\n",
		"ecli: dryrn_exec → tracepoint sched/sched_process_exec\n",
		"ecli: dryrn_egress → cgroup_skb/egress on cgroup " + cg + "\n",
	} {
		if strings.Count(stderr, want) != 1 {
			t.Errorf("stderr has %q %d times, want once:\n%s", want, strings.Count(stderr, want), stderr)
		}
	}
	if strings.Contains(stderr, "dryrn_raw →") {
		t.Errorf("the twin in reserve was attached:\n%s", stderr)
	}
	if len(during) < 5 {
		t.Errorf("while running, the kernel had %v; want the 4 loaded programs and the map", during)
	}
}

// A package whose metadata disagrees with its object does not run, and
// the error names both.
func TestRunRefusesLyingMetadata(t *testing.T) {
	src := buildSource(t, "liar", prelude+`
SEC("tp/sched/sched_process_exec")
int handle_exec(void *ctx) { return 0; }
`)
	pkg := *src.Package
	pkg.Meta.BpfSkel.Progs = append([]packager.Prog(nil), pkg.Meta.BpfSkel.Progs...)
	pkg.Meta.BpfSkel.Progs[0].Attach = "cgroup_skb/egress"
	lie := &source.Source{Name: "liar.json", Package: &pkg}
	for _, dry := range []bool{false, true} {
		var out, errs testenv.SyncBuffer
		err := Run(context.Background(), lie.Name, lie.Package, nil, &Options{DryRun: dry, Stdout: &out, Stderr: &errs})
		if !errors.Is(err, packager.ErrMismatch) || !strings.Contains(err.Error(), `liar.json: package.json says program handle_exec is SEC("cgroup_skb/egress") but the object has it in SEC("tp/sched/sched_process_exec")`) {
			t.Errorf("dry run %v: %v", dry, err)
		}
		if out.String() != "" || errs.String() != "" {
			t.Errorf("dry run %v printed:\n%s%s", dry, &out, &errs)
		}
	}
}
