package section

import (
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
)

// Kind says how a program is attached.
type Kind int

// The kinds of attachment.
const (
	None           Kind = iota // zero value; no section has it
	Tracepoint                 // tracepoint/GROUP/NAME, tp/GROUP/NAME: link.Tracepoint
	RawTracepoint              // raw_tp/NAME, raw_tracepoint[.w]/NAME: link.AttachRawTracepoint
	TracingBTF                 // tp_btf, fentry, fexit, fmod_ret (+.s), lsm (+.s): link.AttachTracing / link.AttachLSM
	Kprobe                     // kprobe/FUNC[+OFF]: link.Kprobe
	Kretprobe                  // kretprobe/FUNC: link.Kretprobe
	Ksyscall                   // ksyscall/NAME: kprobe on the arch's syscall wrapper
	Kretsyscall                // kretsyscall/NAME: kretprobe on the arch's syscall wrapper
	KprobeMulti                // kprobe.multi/PATTERN: link.KprobeMulti
	KretprobeMulti             // kretprobe.multi/PATTERN: link.KprobeMulti, return probes
	Uprobe                     // uprobe[.s][/BINARY:SYMBOL[+OFF]]: Executable.Uprobe
	Uretprobe                  // uretprobe[.s][/BINARY:SYMBOL[+OFF]]: Executable.Uretprobe
	UprobeMulti                // uprobe.multi[.s][/BINARY:PATTERN]: Executable.UprobeMulti
	UretprobeMulti             // uretprobe.multi[.s][/BINARY:PATTERN]: Executable.UretprobeMulti
	USDT                       // usdt[.s][/BINARY:PROVIDER:NAME]: a uprobe per probe site, specs for <bpf/usdt.bpf.h>
	Iter                       // iter[.s]/NAME: link.AttachIter, read through IterLink.Open
	XDP                        // xdp, xdp.frags: link.AttachXDP, driver mode, else generic
	TC                         // tc, classifier, tc/ingress, tc/egress: TCX, else clsact qdisc + bpf filter
	TCX                        // tcx/ingress, tcx/egress: link.AttachTCX only
	Cgroup                     // cgroup_skb/*, cgroup/*, sockops, lsm_cgroup: link.AttachCgroup
	SocketFilter               // socket: SO_ATTACH_BPF on an AF_PACKET socket bound to the interface
	PerfEvent                  // perf_event: software CPU clock on every online CPU
	Manual                     // known, but not attached automatically (struct_ops, sk_msg, ...)
)

var kindNames = [...]string{
	None:           "none",
	Tracepoint:     "tracepoint",
	RawTracepoint:  "raw_tracepoint",
	TracingBTF:     "tracing",
	Kprobe:         "kprobe",
	Kretprobe:      "kretprobe",
	Ksyscall:       "ksyscall",
	Kretsyscall:    "kretsyscall",
	KprobeMulti:    "kprobe.multi",
	KretprobeMulti: "kretprobe.multi",
	Uprobe:         "uprobe",
	Uretprobe:      "uretprobe",
	UprobeMulti:    "uprobe.multi",
	UretprobeMulti: "uretprobe.multi",
	USDT:           "usdt",
	Iter:           "iter",
	XDP:            "xdp",
	TC:             "tc",
	TCX:            "tcx",
	Cgroup:         "cgroup",
	SocketFilter:   "socket_filter",
	PerfEvent:      "perf_event",
	Manual:         "manual",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Def is one entry of the section table: a libbpf section pattern and
// what programs in matching sections are.
type Def struct {
	// Pattern follows libbpf's (and cilium/ebpf's) convention: "x+"
	// matches "x" and "x/..."; "x/" matches "x/..."; anything else matches
	// exactly (and, as in cilium/ebpf, as a prefix when nothing matches
	// exactly).
	Pattern string
	Kind    Kind
	// Attach is the attach type programs of the section get, if any.
	Attach ebpf.AttachType
	// Reason says, for Kind Manual, why ecli does not attach the program.
	Reason string
}

// Why ecli leaves the programs of some sections unattached (Def.Reason).
const (
	ReasonSockmap   = "sk_skb and sk_msg programs run from a sockmap or sockhash that user space fills; attach them with link.RawAttachProgram to the map"
	ReasonReuseport = "sk_reuseport programs are attached to a socket group with SO_ATTACH_REUSEPORT_EBPF by the application"
	ReasonDevmap    = "xdp/devmap and xdp/cpumap programs run from devmap or cpumap entries, they cannot be attached to an interface"
	ReasonLWT       = "lwt programs are attached to routes (ip route add ... encap bpf ...)"
	ReasonStructOps = "struct_ops programs are registered through their struct_ops map, not one by one"
	ReasonSession   = "session probes are not supported yet; use a kprobe/kretprobe (or uprobe/uretprobe) pair"
	ReasonNetkit    = "netkit programs are attached to a netkit device by its manager"
	ReasonNetns     = "programs of this type are attached to a network namespace by the application"
	ReasonCgroupSkb = "cgroup/skb names no direction: use SEC(\"cgroup_skb/ingress\") or SEC(\"cgroup_skb/egress\")"
	ReasonFreplace  = "freplace programs replace a function of another loaded BPF program, which the runtime does not know"
	ReasonFsession  = "fsession programs are not supported by cilium/ebpf v0.22"
	ReasonSyscall   = "syscall programs are run by user space with BPF_PROG_RUN, not attached"
	ReasonAction    = "tc actions are attached with tc(8): tc filter ... action bpf ..."
	ReasonLirc      = "lirc_mode2 programs are attached to a /dev/lircN device"
	ReasonNetfilter = "netfilter programs need a hook, protocol family and priority, which no section name gives"
)

// Table mirrors libbpf's section_defs (and cilium/ebpf's elf_sections.go),
// in the same order. It is not to be modified.
var Table = []Def{
	{"socket", SocketFilter, 0, ""},
	{"sk_reuseport/migrate", Manual, 0, ReasonReuseport},
	{"sk_reuseport", Manual, 0, ReasonReuseport},
	{"kprobe+", Kprobe, 0, ""},
	{"uprobe+", Uprobe, 0, ""},
	{"uprobe.s+", Uprobe, 0, ""},
	{"kretprobe+", Kretprobe, 0, ""},
	{"uretprobe+", Uretprobe, 0, ""},
	{"uretprobe.s+", Uretprobe, 0, ""},
	{"kprobe.multi+", KprobeMulti, ebpf.AttachTraceKprobeMulti, ""},
	{"kretprobe.multi+", KretprobeMulti, ebpf.AttachTraceKprobeMulti, ""},
	{"kprobe.session+", Manual, 0, ReasonSession},
	{"uprobe.multi+", UprobeMulti, ebpf.AttachTraceUprobeMulti, ""},
	{"uretprobe.multi+", UretprobeMulti, ebpf.AttachTraceUprobeMulti, ""},
	{"uprobe.session+", Manual, 0, ReasonSession},
	{"uprobe.multi.s+", UprobeMulti, ebpf.AttachTraceUprobeMulti, ""},
	{"uretprobe.multi.s+", UretprobeMulti, ebpf.AttachTraceUprobeMulti, ""},
	{"uprobe.session.s+", Manual, 0, ReasonSession},
	{"ksyscall+", Ksyscall, 0, ""},
	{"kretsyscall+", Kretsyscall, 0, ""},
	{"usdt+", USDT, 0, ""},
	{"usdt.s+", USDT, 0, ""},
	{"tc/ingress", TC, ebpf.AttachTCXIngress, ""},
	{"tc/egress", TC, ebpf.AttachTCXEgress, ""},
	{"tcx/ingress", TCX, ebpf.AttachTCXIngress, ""},
	{"tcx/egress", TCX, ebpf.AttachTCXEgress, ""},
	{"tc", TC, ebpf.AttachTCXIngress, ""},
	{"classifier", TC, ebpf.AttachTCXIngress, ""},
	{"action", Manual, 0, ReasonAction},
	{"netkit/primary", Manual, 0, ReasonNetkit},
	{"netkit/peer", Manual, 0, ReasonNetkit},
	{"tracepoint+", Tracepoint, 0, ""},
	{"tp+", Tracepoint, 0, ""},
	{"raw_tracepoint+", RawTracepoint, 0, ""},
	{"raw_tp+", RawTracepoint, 0, ""},
	{"raw_tracepoint.w+", RawTracepoint, 0, ""},
	{"raw_tp.w+", RawTracepoint, 0, ""},
	{"tp_btf+", TracingBTF, ebpf.AttachTraceRawTp, ""},
	{"fentry+", TracingBTF, ebpf.AttachTraceFEntry, ""},
	{"fmod_ret+", TracingBTF, ebpf.AttachModifyReturn, ""},
	{"fexit+", TracingBTF, ebpf.AttachTraceFExit, ""},
	{"fentry.s+", TracingBTF, ebpf.AttachTraceFEntry, ""},
	{"fmod_ret.s+", TracingBTF, ebpf.AttachModifyReturn, ""},
	{"fexit.s+", TracingBTF, ebpf.AttachTraceFExit, ""},
	{"fsession+", Manual, 0, ReasonFsession},
	{"fsession.s+", Manual, 0, ReasonFsession},
	{"freplace+", Manual, 0, ReasonFreplace},
	{"lsm+", TracingBTF, ebpf.AttachLSMMac, ""},
	{"lsm.s+", TracingBTF, ebpf.AttachLSMMac, ""},
	{"lsm_cgroup+", Cgroup, ebpf.AttachLSMCgroup, ""},
	{"iter+", Iter, ebpf.AttachTraceIter, ""},
	{"iter.s+", Iter, ebpf.AttachTraceIter, ""},
	{"syscall", Manual, 0, ReasonSyscall},
	{"xdp.frags/devmap", Manual, 0, ReasonDevmap},
	{"xdp/devmap", Manual, 0, ReasonDevmap},
	{"xdp.frags/cpumap", Manual, 0, ReasonDevmap},
	{"xdp/cpumap", Manual, 0, ReasonDevmap},
	{"xdp.frags", XDP, ebpf.AttachXDP, ""},
	{"xdp", XDP, ebpf.AttachXDP, ""},
	{"perf_event", PerfEvent, ebpf.AttachPerfEvent, ""},
	{"lwt_in", Manual, 0, ReasonLWT},
	{"lwt_out", Manual, 0, ReasonLWT},
	{"lwt_xmit", Manual, 0, ReasonLWT},
	{"lwt_seg6local", Manual, 0, ReasonLWT},
	{"sockops", Cgroup, ebpf.AttachCGroupSockOps, ""},
	{"sk_skb/stream_parser", Manual, 0, ReasonSockmap},
	{"sk_skb/stream_verdict", Manual, 0, ReasonSockmap},
	{"sk_skb/verdict", Manual, 0, ReasonSockmap},
	{"sk_skb", Manual, 0, ReasonSockmap},
	{"sk_msg", Manual, 0, ReasonSockmap},
	{"lirc_mode2", Manual, 0, ReasonLirc},
	{"flow_dissector", Manual, 0, ReasonNetns},
	{"cgroup_skb/ingress", Cgroup, ebpf.AttachCGroupInetIngress, ""},
	{"cgroup_skb/egress", Cgroup, ebpf.AttachCGroupInetEgress, ""},
	{"cgroup/skb", Manual, 0, ReasonCgroupSkb},
	{"cgroup/sock_create", Cgroup, ebpf.AttachCGroupInetSockCreate, ""},
	{"cgroup/sock_release", Cgroup, ebpf.AttachCgroupInetSockRelease, ""},
	{"cgroup/sock", Cgroup, ebpf.AttachCGroupInetSockCreate, ""},
	{"cgroup/post_bind4", Cgroup, ebpf.AttachCGroupInet4PostBind, ""},
	{"cgroup/post_bind6", Cgroup, ebpf.AttachCGroupInet6PostBind, ""},
	{"cgroup/bind4", Cgroup, ebpf.AttachCGroupInet4Bind, ""},
	{"cgroup/bind6", Cgroup, ebpf.AttachCGroupInet6Bind, ""},
	{"cgroup/connect4", Cgroup, ebpf.AttachCGroupInet4Connect, ""},
	{"cgroup/connect6", Cgroup, ebpf.AttachCGroupInet6Connect, ""},
	{"cgroup/connect_unix", Cgroup, ebpf.AttachCgroupUnixConnect, ""},
	{"cgroup/sendmsg4", Cgroup, ebpf.AttachCGroupUDP4Sendmsg, ""},
	{"cgroup/sendmsg6", Cgroup, ebpf.AttachCGroupUDP6Sendmsg, ""},
	{"cgroup/sendmsg_unix", Cgroup, ebpf.AttachCgroupUnixSendmsg, ""},
	{"cgroup/recvmsg4", Cgroup, ebpf.AttachCGroupUDP4Recvmsg, ""},
	{"cgroup/recvmsg6", Cgroup, ebpf.AttachCGroupUDP6Recvmsg, ""},
	{"cgroup/recvmsg_unix", Cgroup, ebpf.AttachCgroupUnixRecvmsg, ""},
	{"cgroup/getpeername4", Cgroup, ebpf.AttachCgroupInet4GetPeername, ""},
	{"cgroup/getpeername6", Cgroup, ebpf.AttachCgroupInet6GetPeername, ""},
	{"cgroup/getpeername_unix", Cgroup, ebpf.AttachCgroupUnixGetpeername, ""},
	{"cgroup/getsockname4", Cgroup, ebpf.AttachCgroupInet4GetSockname, ""},
	{"cgroup/getsockname6", Cgroup, ebpf.AttachCgroupInet6GetSockname, ""},
	{"cgroup/getsockname_unix", Cgroup, ebpf.AttachCgroupUnixGetsockname, ""},
	{"cgroup/sysctl", Cgroup, ebpf.AttachCGroupSysctl, ""},
	{"cgroup/getsockopt", Cgroup, ebpf.AttachCGroupGetsockopt, ""},
	{"cgroup/setsockopt", Cgroup, ebpf.AttachCGroupSetsockopt, ""},
	{"cgroup/dev", Cgroup, ebpf.AttachCGroupDevice, ""},
	{"struct_ops+", Manual, 0, ReasonStructOps},
	{"struct_ops.s+", Manual, 0, ReasonStructOps},
	{"sk_lookup", Manual, 0, ReasonNetns},
	{"netfilter", Manual, 0, ReasonNetfilter},
}

// Match reports whether section matches the pattern strictly, and the
// text after the first slash.
func (d *Def) Match(section string) (extra string, ok bool) {
	have, extra, slash := strings.Cut(section, "/")
	switch {
	case strings.HasSuffix(d.Pattern, "+"):
		return extra, have == strings.TrimSuffix(d.Pattern, "+")
	case strings.HasSuffix(d.Pattern, "/"):
		return extra, slash && have == strings.TrimSuffix(d.Pattern, "/")
	}
	return "", section == d.Pattern
}

// Lookup finds the table entry for a section name (without libbpf's "?"
// prefix) and returns it with the text after the first slash: an exact
// match first (libbpf ≥ 1.0), then, for patterns without "+", a prefix
// match as cilium/ebpf (and old libbpf) does, so that SEC("xdp_prog") or
// SEC("socket1") attach the way cilium/ebpf loaded them.
func Lookup(section string) (*Def, string, bool) {
	for i := range Table {
		if extra, ok := Table[i].Match(section); ok {
			return &Table[i], extra, true
		}
	}
	for i := range Table {
		p := Table[i].Pattern
		if !strings.HasSuffix(p, "+") && !strings.HasSuffix(p, "/") && strings.HasPrefix(section, p) {
			return &Table[i], "", true
		}
	}
	return nil, "", false
}
