// Package capability says which Linux capabilities loading and attaching
// a package's programs takes besides CAP_BPF and CAP_PERFMON, from the
// programs' types, their section kinds and the helpers they call. ecli
// run names them when the kernel refuses a process that lacks them
// (runtime/loader.PermissionError); ecc deploy grants them to the
// DaemonSet's container (deploy).
package capability

import (
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ecc-bpf/ecc/packager/section"
)

// Need is a capability some programs of a package need besides CAP_BPF
// and CAP_PERFMON, and why, e.g. {"attaches XDP", "CAP_NET_ADMIN"}.
type Need struct {
	Why string
	Cap string
}

// Needs are what loading and attaching a package's programs take: root,
// or CAP_BPF and CAP_PERFMON and the Extra ones.
type Needs struct {
	Extra []Need
}

// Caps lists the extra capabilities once each, in order.
func (n Needs) Caps() []string {
	var out []string
	for _, need := range n.Extra {
		if !slices.Contains(out, need.Cap) {
			out = append(out, need.Cap)
		}
	}
	return out
}

// Has reports whether n needs capability c (e.g. "CAP_NET_ADMIN").
func (n Needs) Has(c string) bool { return slices.Contains(n.Caps(), c) }

// NetAdminTypes are the program types the kernel loads only with
// CAP_NET_ADMIN (its is_net_admin_prog_type), and what to call them.
var NetAdminTypes = map[ebpf.ProgramType]string{
	ebpf.XDP:            "XDP",
	ebpf.SchedCLS:       "tc",
	ebpf.SchedACT:       "tc",
	ebpf.CGroupSock:     "cgroup",
	ebpf.CGroupSockAddr: "cgroup",
	ebpf.CGroupSockopt:  "cgroup",
	ebpf.CGroupSysctl:   "cgroup",
	ebpf.CGroupDevice:   "cgroup",
	ebpf.SockOps:        "sockops",
	ebpf.SkSKB:          "sk_skb",
	ebpf.SkMsg:          "sk_msg",
	ebpf.LWTIn:          "lwt",
	ebpf.LWTOut:         "lwt",
	ebpf.LWTXmit:        "lwt",
	ebpf.LWTSeg6Local:   "lwt",
	ebpf.FlowDissector:  "flow_dissector",
	ebpf.Netfilter:      "netfilter",
}

// Of says which capabilities the programs of spec that kinds lists (by
// name: how each is attached; programs missing from kinds are not
// loaded) need besides CAP_BPF and CAP_PERFMON: CAP_NET_ADMIN to load
// and attach network programs (XDP, tc, cgroup socket hooks, ...),
// CAP_NET_RAW for the packet socket of a socket filter, CAP_SYS_ADMIN
// for uprobes and uretprobes (perf's uprobe PMU asks for it) and for
// programs that call bpf_probe_write_user, CAP_DAC_READ_SEARCH to
// read the ids of tracepoints in tracefs (mode 0700, root's: a process
// running as another user needs it).
func Of(spec *ebpf.CollectionSpec, kinds map[string]section.Kind) Needs {
	var n Needs
	seen := map[Need]bool{}
	add := func(why, capName string) {
		if need := (Need{why, capName}); !seen[need] {
			seen[need] = true
			n.Extra = append(n.Extra, need)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Programs)) {
		ps := spec.Programs[name]
		kind, ok := kinds[name]
		if !ok {
			continue // skipped: not loaded
		}
		if what, ok := NetAdminTypes[ps.Type]; ok {
			add("attaches "+what, "CAP_NET_ADMIN")
		}
		if kind == section.Tracepoint {
			add("reads tracefs for its tracepoints", "CAP_DAC_READ_SEARCH")
		}
		if kind == section.SocketFilter {
			add("opens a packet socket", "CAP_NET_RAW")
		}
		if kind == section.Uprobe || kind == section.Uretprobe {
			// Measured on Linux 6.18: perf_event_open of the uprobe PMU
			// fails with EACCES for a process with CAP_BPF and
			// CAP_PERFMON, and passes with CAP_SYS_ADMIN; uprobe.multi
			// links (bpf_link_create) need no more than CAP_BPF and
			// CAP_PERFMON.
			add("attaches uprobes through perf's uprobe PMU", "CAP_SYS_ADMIN")
		}
		if CallsProbeWriteUser(ps) {
			add("calls bpf_probe_write_user", "CAP_SYS_ADMIN")
		}
	}
	return n
}

// CallsProbeWriteUser reports whether ps calls bpf_probe_write_user, which
// the kernel gives only to programs loaded with CAP_SYS_ADMIN.
func CallsProbeWriteUser(ps *ebpf.ProgramSpec) bool {
	for _, ins := range ps.Instructions {
		if ins.IsBuiltinCall() && asm.BuiltinFunc(ins.Constant) == asm.FnProbeWriteUser {
			return true
		}
	}
	return false
}

// KindOf is how a program in ps's section is attached, from the section
// table (a leading "?" and leading dots ignored), else from the program
// type cilium/ebpf gave it (as runtime/attach's defForType); None when
// neither says. runtime/attach plans
// the same way, with the user's flags on top, which change targets but
// not kinds.
func KindOf(ps *ebpf.ProgramSpec) section.Kind {
	s := strings.TrimPrefix(ps.SectionName, "?")
	if d, _, ok := section.Lookup(s); ok {
		return d.Kind
	}
	if d, _, ok := section.LookupDotted(s); ok {
		return d.Kind
	}
	switch ps.Type {
	case ebpf.XDP:
		return section.XDP
	case ebpf.SchedCLS:
		return section.TC
	case ebpf.SocketFilter:
		return section.SocketFilter
	case ebpf.PerfEvent:
		return section.PerfEvent
	case ebpf.CGroupSKB, ebpf.CGroupSock, ebpf.CGroupSockAddr, ebpf.CGroupSysctl,
		ebpf.CGroupSockopt, ebpf.CGroupDevice, ebpf.SockOps:
		return section.Cgroup
	}
	return section.None
}
