package attach

import (
	"sort"

	"github.com/cilium/ebpf"
)

// Twins.
//
// libbpf-tools ship some hooks twice and keep one at load time, the best
// the kernel supports: tp_btf/X and raw_tp/X (and tp/GROUP/X), fentry/F and
// kprobe/F, fexit/F and kretprobe/F. Twins finds such groups so that a
// runner attaches one kind per group: the most preferred that loads and
// attaches, falling back to the next.
//
// A group is the set of programs that hook the same place in the same
// direction:
//
//	tracepoint X    tp_btf/X  >  raw_tp/X, raw_tracepoint/X  >  tp/GROUP/X, tracepoint/GROUP/X
//	entry of F      fentry/F, fentry.s/F  >  kprobe/F (no offset), ksyscall/NAME (F is its wrapper, e.g. __x64_sys_NAME)
//	return of F     fexit/F, fexit.s/F  >  kretprobe/F, kretsyscall/NAME
//
// Only groups with programs of at least two of these kinds are twins;
// programs of one kind on one hook (two tp_btf/X) are all attached, as
// any other program. Writable raw tracepoints (raw_tp.w), fmod_ret, lsm,
// kprobes at an offset and multi-probes have no twins.

// TwinGroup is one group of twins.
type TwinGroup struct {
	// Hook is what the twins hook, e.g. "tracepoint sched_switch",
	// "entry of do_unlinkat", "return of do_unlinkat".
	Hook string
	// Classes are the programs by kind, the preferred kind first; each
	// class is sorted by name.
	Classes [][]string
}

// twinHook says which group a plan belongs to and its rank there (0 is
// preferred).
func twinHook(p *Plan) (hook string, rank int, ok bool) {
	switch p.Kind {
	case TracingBTF:
		switch p.Attach {
		case ebpf.AttachTraceRawTp:
			return "tracepoint " + p.Name, 0, true
		case ebpf.AttachTraceFEntry:
			return "entry of " + p.Name, 0, true
		case ebpf.AttachTraceFExit:
			return "return of " + p.Name, 0, true
		}
	case RawTracepoint:
		if p.Type == ebpf.RawTracepoint {
			return "tracepoint " + p.Name, 1, true
		}
	case Tracepoint:
		return "tracepoint " + p.Name, 2, true
	case Kprobe:
		if p.Offset == 0 {
			return "entry of " + p.Symbol, 1, true
		}
	case Ksyscall:
		return "entry of " + p.Symbol, 1, true
	case Kretprobe, Kretsyscall:
		return "return of " + p.Symbol, 1, true
	}
	return "", 0, false
}

// Twins finds the groups of twins among plans, sorted by hook.
func Twins(plans map[string]*Plan) []*TwinGroup {
	byHook := map[string]map[int][]string{}
	for name, p := range plans {
		hook, rank, ok := twinHook(p)
		if !ok {
			continue
		}
		if byHook[hook] == nil {
			byHook[hook] = map[int][]string{}
		}
		byHook[hook][rank] = append(byHook[hook][rank], name)
	}
	var out []*TwinGroup
	for hook, ranks := range byHook {
		if len(ranks) < 2 {
			continue
		}
		keys := make([]int, 0, len(ranks))
		for r := range ranks {
			keys = append(keys, r)
		}
		sort.Ints(keys)
		g := &TwinGroup{Hook: hook}
		for _, r := range keys {
			sort.Strings(ranks[r])
			g.Classes = append(g.Classes, ranks[r])
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Hook < out[j].Hook })
	return out
}
