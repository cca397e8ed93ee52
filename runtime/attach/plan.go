package attach

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/termsafe"
	"github.com/ecc-bpf/ecc/runtime/attach/usdt"
)

// DefaultFreq is the perf_event sampling frequency (Hz) used when
// Options.Freq is 0; 49 Hz avoids lockstep with timer interrupts.
const DefaultFreq = 49

// Options are the user's runtime choices (ecli run flags).
type Options struct {
	// IfName is the network interface for xdp, tc/tcx and socket filter
	// programs (--ifname); they cannot be attached without it.
	IfName string
	// Cgroup is the cgroup v2 directory for cgroup programs (--cgroup).
	// There is no default: PlanFor refuses cgroup programs without one, so
	// that attaching to the root cgroup (every process) is always asked for.
	Cgroup string
	// Uprobe holds the --uprobe values, each [PROG=]BINARY[:SYMBOL[+OFFSET]]
	// or [PROG=]BINARY:ADDRESS: targets for uprobe programs whose section
	// names none (bare SEC("uprobe")) or names a function but no binary
	// (SEC("uretprobe/readline")); see "Uprobe targets" in the package
	// documentation for how they apply.
	Uprobe []string
	// USDT are the targets of bare SEC("usdt") programs (--usdt, repeated):
	// [PROG=]BINARY:PROVIDER:NAME. Without PROG= a target is for the one
	// bare usdt program (CheckOptions checks there is only one).
	USDT []string
	// PID limits uprobes, uretprobes and USDT probes to one process
	// (--pid); 0 traces every process.
	PID int
	// Freq is the perf_event sampling frequency in Hz on every CPU
	// (--freq); 0 means DefaultFreq.
	Freq uint64
}

// Kind says how a program is attached.
type Kind int

// The kinds of attachment. Each Plan has one.
const (
	None           Kind = iota // zero value; PlanFor never returns it
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

// Plan is what Attach will do for one program, decided from its section
// name and the Options without touching the kernel. Fields that do not
// apply to Kind are zero.
type Plan struct {
	Program string           // program (function) name
	Section string           // the full SEC("...") string
	Kind    Kind             // how it is attached
	Type    ebpf.ProgramType // program type, from the spec
	Attach  ebpf.AttachType  // TracingBTF, Iter, Cgroup: the attach type; TC, TCX: AttachTCXIngress or AttachTCXEgress
	Group   string           // Tracepoint: the group (e.g. "syscalls"); USDT: the provider
	Name    string           // Tracepoint: event; RawTracepoint, TracingBTF: tracepoint, function or LSM hook; Iter: iterator; Ksyscall, Kretsyscall: syscall; USDT: the probe
	Symbol  string           // kprobes, uprobes: symbol ("" for a uprobe at an absolute file offset); *Multi kinds: glob pattern
	Offset  uint64           // kprobes, uprobes: offset from Symbol (file offset when Symbol is "")
	Binary  string           // uprobes, USDT: absolute path of the traced binary or library ("" for a bare usdt program without --usdt)
	PID     int              // uprobes, USDT: only this process (0: all)
	IfName  string           // XDP, TC, TCX, SocketFilter: the network interface
	Cgroup  string           // Cgroup: the cgroup v2 directory
	Freq    uint64           // PerfEvent: samples per second on each CPU
	Reason  string           // Manual: why the runtime does not attach it, and how it could be
	Sites   []usdt.Site      // USDT: where the probe is in Binary (several when inlined)

	usdtFile *usdt.File // USDT: what PlanFor read from Binary
}

// String describes the attachment in a few words, e.g.
// "tracepoint syscalls/sys_enter_openat" or "xdp on eth0".
func (p *Plan) String() string {
	switch p.Kind {
	case Tracepoint:
		return fmt.Sprintf("tracepoint %s/%s", p.Group, p.Name)
	case RawTracepoint:
		return "raw tracepoint " + p.Name
	case TracingBTF:
		prefix, _, _ := strings.Cut(strings.TrimPrefix(p.Section, "?"), "/")
		return prefix + " " + p.Name
	case Kprobe, Kretprobe:
		s := p.Kind.String() + " " + p.Symbol
		if p.Offset != 0 {
			s += fmt.Sprintf("+%#x", p.Offset)
		}
		return s
	case Ksyscall, Kretsyscall:
		return fmt.Sprintf("%s %s (%s)", p.Kind, p.Name, p.Symbol)
	case KprobeMulti, KretprobeMulti:
		return p.Kind.String() + " " + p.Symbol
	case Uprobe, Uretprobe, UprobeMulti, UretprobeMulti:
		s := p.Kind.String() + " " + p.Binary + ":"
		switch {
		case p.Symbol == "":
			s += fmt.Sprintf("%#x", p.Offset)
		case p.Offset != 0:
			s += fmt.Sprintf("%s+%#x", p.Symbol, p.Offset)
		default:
			s += p.Symbol
		}
		if p.PID != 0 {
			s += " pid " + strconv.Itoa(p.PID)
		}
		return s
	case USDT:
		return usdtString(p)
	case Iter:
		return "iterator " + p.Name
	case XDP:
		return "xdp on " + p.IfName
	case TC, TCX:
		return fmt.Sprintf("%s %s on %s", p.Kind, direction(p.Attach), p.IfName)
	case Cgroup:
		return fmt.Sprintf("%s on cgroup %s", strings.TrimPrefix(p.Section, "?"), p.Cgroup)
	case SocketFilter:
		return "socket filter on " + p.IfName
	case PerfEvent:
		return fmt.Sprintf("perf_event cpu-clock at %d Hz on every CPU", p.Freq)
	case Manual:
		return "not attached automatically: " + p.Reason
	}
	return p.Kind.String()
}

// Line is what ecli prints before it attaches the program, e.g.
// "handle_exec → tracepoint sched/sched_process_exec": the program and
// String, their control characters escaped (names come from the package).
func (p *Plan) Line() string {
	return termsafe.Line(p.Program) + " → " + termsafe.Line(p.String())
}

func direction(at ebpf.AttachType) string {
	if at == ebpf.AttachTCXEgress {
		return "egress"
	}
	return "ingress"
}

// secDef is one entry of the section table: the libbpf section pattern and
// what to do with programs in matching sections.
type secDef struct {
	// pattern follows libbpf's (and cilium/ebpf's) convention: "x+" matches
	// "x" and "x/..."; "x/" matches "x/..."; anything else matches exactly
	// (and, as in cilium/ebpf, as a prefix when nothing matches exactly).
	pattern string
	kind    Kind
	attach  ebpf.AttachType
	reason  string // Manual
}

const (
	reasonSockmap   = "sk_skb and sk_msg programs run from a sockmap or sockhash that user space fills; attach them with link.RawAttachProgram to the map"
	reasonReuseport = "sk_reuseport programs are attached to a socket group with SO_ATTACH_REUSEPORT_EBPF by the application"
	reasonDevmap    = "xdp/devmap and xdp/cpumap programs run from devmap or cpumap entries, they cannot be attached to an interface"
	reasonLWT       = "lwt programs are attached to routes (ip route add ... encap bpf ...)"
	reasonStructOps = "struct_ops programs are registered through their struct_ops map, not one by one"
	reasonSession   = "session probes are not supported yet; use a kprobe/kretprobe (or uprobe/uretprobe) pair"
	reasonNetkit    = "netkit programs are attached to a netkit device by its manager"
	reasonNetns     = "programs of this type are attached to a network namespace by the application"
	reasonCgroupSkb = "cgroup/skb names no direction: use SEC(\"cgroup_skb/ingress\") or SEC(\"cgroup_skb/egress\")"
	reasonFreplace  = "freplace programs replace a function of another loaded BPF program, which the runtime does not know"
	reasonFsession  = "fsession programs are not supported by cilium/ebpf v0.22"
	reasonSyscall   = "syscall programs are run by user space with BPF_PROG_RUN, not attached"
	reasonAction    = "tc actions are attached with tc(8): tc filter ... action bpf ..."
	reasonLirc      = "lirc_mode2 programs are attached to a /dev/lircN device"
	reasonNetfilter = "netfilter programs need a hook, protocol family and priority, which no section name gives"
	reasonMapIter   = "this iterator walks one map, which the runtime cannot choose; attach it with link.AttachIter and IterOptions.Map"
	reasonNoTarget  = "the section names no target (write SEC(\"%s/TARGET\") to attach it automatically)"
)

// sections mirrors libbpf's section_defs (and cilium/ebpf's elf_sections.go),
// in the same order.
var sections = []secDef{
	{"socket", SocketFilter, 0, ""},
	{"sk_reuseport/migrate", Manual, 0, reasonReuseport},
	{"sk_reuseport", Manual, 0, reasonReuseport},
	{"kprobe+", Kprobe, 0, ""},
	{"uprobe+", Uprobe, 0, ""},
	{"uprobe.s+", Uprobe, 0, ""},
	{"kretprobe+", Kretprobe, 0, ""},
	{"uretprobe+", Uretprobe, 0, ""},
	{"uretprobe.s+", Uretprobe, 0, ""},
	{"kprobe.multi+", KprobeMulti, ebpf.AttachTraceKprobeMulti, ""},
	{"kretprobe.multi+", KretprobeMulti, ebpf.AttachTraceKprobeMulti, ""},
	{"kprobe.session+", Manual, 0, reasonSession},
	{"uprobe.multi+", UprobeMulti, ebpf.AttachTraceUprobeMulti, ""},
	{"uretprobe.multi+", UretprobeMulti, ebpf.AttachTraceUprobeMulti, ""},
	{"uprobe.session+", Manual, 0, reasonSession},
	{"uprobe.multi.s+", UprobeMulti, ebpf.AttachTraceUprobeMulti, ""},
	{"uretprobe.multi.s+", UretprobeMulti, ebpf.AttachTraceUprobeMulti, ""},
	{"uprobe.session.s+", Manual, 0, reasonSession},
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
	{"action", Manual, 0, reasonAction},
	{"netkit/primary", Manual, 0, reasonNetkit},
	{"netkit/peer", Manual, 0, reasonNetkit},
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
	{"fsession+", Manual, 0, reasonFsession},
	{"fsession.s+", Manual, 0, reasonFsession},
	{"freplace+", Manual, 0, reasonFreplace},
	{"lsm+", TracingBTF, ebpf.AttachLSMMac, ""},
	{"lsm.s+", TracingBTF, ebpf.AttachLSMMac, ""},
	{"lsm_cgroup+", Cgroup, ebpf.AttachLSMCgroup, ""},
	{"iter+", Iter, ebpf.AttachTraceIter, ""},
	{"iter.s+", Iter, ebpf.AttachTraceIter, ""},
	{"syscall", Manual, 0, reasonSyscall},
	{"xdp.frags/devmap", Manual, 0, reasonDevmap},
	{"xdp/devmap", Manual, 0, reasonDevmap},
	{"xdp.frags/cpumap", Manual, 0, reasonDevmap},
	{"xdp/cpumap", Manual, 0, reasonDevmap},
	{"xdp.frags", XDP, ebpf.AttachXDP, ""},
	{"xdp", XDP, ebpf.AttachXDP, ""},
	{"perf_event", PerfEvent, ebpf.AttachPerfEvent, ""},
	{"lwt_in", Manual, 0, reasonLWT},
	{"lwt_out", Manual, 0, reasonLWT},
	{"lwt_xmit", Manual, 0, reasonLWT},
	{"lwt_seg6local", Manual, 0, reasonLWT},
	{"sockops", Cgroup, ebpf.AttachCGroupSockOps, ""},
	{"sk_skb/stream_parser", Manual, 0, reasonSockmap},
	{"sk_skb/stream_verdict", Manual, 0, reasonSockmap},
	{"sk_skb/verdict", Manual, 0, reasonSockmap},
	{"sk_skb", Manual, 0, reasonSockmap},
	{"sk_msg", Manual, 0, reasonSockmap},
	{"lirc_mode2", Manual, 0, reasonLirc},
	{"flow_dissector", Manual, 0, reasonNetns},
	{"cgroup_skb/ingress", Cgroup, ebpf.AttachCGroupInetIngress, ""},
	{"cgroup_skb/egress", Cgroup, ebpf.AttachCGroupInetEgress, ""},
	{"cgroup/skb", Manual, 0, reasonCgroupSkb},
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
	{"struct_ops+", Manual, 0, reasonStructOps},
	{"struct_ops.s+", Manual, 0, reasonStructOps},
	{"sk_lookup", Manual, 0, reasonNetns},
	{"netfilter", Manual, 0, reasonNetfilter},
}

// match reports whether section matches def's pattern strictly, and the
// text after the first slash.
func (def *secDef) match(section string) (extra string, ok bool) {
	have, extra, slash := strings.Cut(section, "/")
	switch {
	case strings.HasSuffix(def.pattern, "+"):
		return extra, have == strings.TrimSuffix(def.pattern, "+")
	case strings.HasSuffix(def.pattern, "/"):
		return extra, slash && have == strings.TrimSuffix(def.pattern, "/")
	}
	return "", section == def.pattern
}

// lookupSection finds the table entry for a section name: an exact match
// first (libbpf ≥ 1.0), then, for patterns without "+", a prefix match as
// cilium/ebpf (and old libbpf) does, so that SEC("xdp_prog") or
// SEC("socket1") attach the way cilium/ebpf loaded them.
func lookupSection(section string) (*secDef, string, bool) {
	for i := range sections {
		if extra, ok := sections[i].match(section); ok {
			return &sections[i], extra, true
		}
	}
	for i := range sections {
		p := sections[i].pattern
		if !strings.HasSuffix(p, "+") && !strings.HasSuffix(p, "/") && strings.HasPrefix(section, p) {
			return &sections[i], "", true
		}
	}
	return nil, "", false
}

// PlanFor decides how to attach the program described by spec, from its
// section name (spec.SectionName) and the user's options. It reads no
// kernel state (but for /proc/kallsyms when a target looks like a
// placeholder, dummy_*); it does look for uprobe binaries and for the
// cgroup v2 mount point, and reads the USDT notes of usdt targets. Errors
// are *PlanError: they name the program, say which flag to pass, and tell
// whether the program can just be skipped (PlanError.Skip) or the user's
// flags are at fault.
//
// Programs the runtime cannot attach by itself (struct_ops, sk_msg, a
// section that names no valid target, ...) get a Plan of Kind Manual, with
// Reason saying why; Attach refuses them with ErrManual.
//
// PlanFor sees one program: an --uprobe BINARY:SYMBOL without PROG= applies
// to it whenever its section is a bare SEC("uprobe"). PlanAll plans a whole
// object and applies the rules that need every program ("Uprobe targets"
// in the package documentation).
func PlanFor(spec *ebpf.ProgramSpec, opts *Options) (*Plan, error) {
	if spec == nil {
		return nil, errors.New("plan attachment: nil program spec")
	}
	if opts == nil {
		opts = &Options{}
	}
	flags, err := parseUprobeValues(opts.Uprobe)
	if err != nil {
		return nil, &PlanError{Program: spec.Name, Section: spec.SectionName, Msg: err.Error(), Err: err}
	}
	return planFor(spec, opts, flags)
}

func planFor(spec *ebpf.ProgramSpec, opts *Options, flags *uprobeFlags) (*Plan, error) {
	section := strings.TrimPrefix(spec.SectionName, "?")
	p := &Plan{Program: spec.Name, Section: spec.SectionName, Type: spec.Type}
	// fail: the user's flags are at fault (or must be given).
	fail := func(format string, args ...any) (*Plan, error) {
		return nil, &PlanError{Program: spec.Name, Section: spec.SectionName, Msg: fmt.Sprintf(format, args...)}
	}
	// skip: this program cannot run here; the others can.
	skip := func(format string, args ...any) (*Plan, error) {
		return nil, &PlanError{Program: spec.Name, Section: spec.SectionName, Msg: fmt.Sprintf(format, args...), Skip: true}
	}

	def, extra, ok := lookupSection(section)
	if !ok {
		def, extra, ok = lookupLegacy(section, spec.Type)
	}
	if !ok {
		if def, ok = defForType(spec); !ok {
			return skip("unknown section name %q: not a libbpf program section, so ecli can neither load nor attach it", section)
		}
		extra = ""
	}
	p.Kind, p.Attach = def.kind, def.attach
	prefix, _, _ := strings.Cut(section, "/")
	manual := func(reason string) (*Plan, error) {
		p.Kind, p.Attach, p.Reason = Manual, 0, reason
		return p, nil
	}
	// noTarget: the section names no valid target; the program may be a
	// tail call or be attached by the tool's own user space.
	noTarget := func(format string, args ...any) (*Plan, error) {
		return manual("the section names no valid target: " + fmt.Sprintf(format, args...))
	}

	switch def.kind {
	case Manual:
		return manual(def.reason)

	case Tracepoint:
		if extra == "" {
			return manual(fmt.Sprintf(reasonNoTarget, prefix))
		}
		group, name, ok := strings.Cut(extra, "/")
		if !ok || group == "" || name == "" || strings.Contains(name, "/") {
			return noTarget("malformed tracepoint %q: want %s/GROUP/NAME, e.g. %s/syscalls/sys_enter_openat", extra, prefix, prefix)
		}
		p.Group, p.Name = group, name

	case RawTracepoint:
		if extra == "" {
			return manual(fmt.Sprintf(reasonNoTarget, prefix))
		}
		p.Name = extra

	case TracingBTF, Iter:
		if extra == "" {
			return noTarget("want %s/NAME", prefix)
		}
		p.Name = extra
		if def.kind == Iter && (extra == "bpf_map_elem" || extra == "sockmap" || extra == "bpf_sk_storage_map") {
			return manual(reasonMapIter)
		}
		if def.kind == TracingBTF && (def.attach == ebpf.AttachTraceFEntry || def.attach == ebpf.AttachTraceFExit || def.attach == ebpf.AttachModifyReturn) && isPlaceholder(extra) {
			return skip(placeholderMsg, extra)
		}

	case Kprobe, Kretprobe:
		if extra == "" {
			return manual(fmt.Sprintf(reasonNoTarget, prefix))
		}
		sym, off, err := splitOffset(extra)
		if err != nil || sym == "" {
			return noTarget("malformed kernel probe target %q: want FUNC or FUNC+OFFSET", extra)
		}
		if off != 0 && def.kind == Kretprobe {
			return noTarget("kretprobes take no offset (%q)", extra)
		}
		if isPlaceholder(sym) {
			return skip(placeholderMsg, sym)
		}
		p.Symbol, p.Offset = sym, off

	case Ksyscall, Kretsyscall:
		if extra == "" {
			return manual(fmt.Sprintf(reasonNoTarget, prefix))
		}
		if strings.ContainsAny(extra, "+/:") {
			return noTarget("malformed syscall name %q: want %s/NAME, e.g. %s/openat", extra, prefix, prefix)
		}
		p.Name = extra
		p.Symbol = SyscallPrefix(runtime.GOARCH) + "sys_" + extra

	case KprobeMulti, KretprobeMulti:
		if extra == "" {
			return manual(fmt.Sprintf(reasonNoTarget, prefix))
		}
		p.Symbol = extra

	case Uprobe, Uretprobe, UprobeMulti, UretprobeMulti:
		if opts.PID < 0 {
			return fail("bad --pid %d", opts.PID)
		}
		if err := planUprobe(p, def.kind, extra, flags); err != nil {
			return nil, err
		}
		p.PID = opts.PID

	case USDT:
		if skipIt, err := planUSDT(p, extra, opts); err != nil {
			if skipIt {
				return skip("%v", err)
			}
			return fail("%v", err)
		}

	case XDP, TC, TCX, SocketFilter:
		if opts.IfName == "" {
			return fail("%s programs attach to a network interface: pass --ifname NAME", prefix)
		}
		p.IfName = opts.IfName

	case Cgroup:
		// No default: the root cgroup is every process on the machine,
		// which the user has to ask for.
		if opts.Cgroup == "" {
			root, err := CgroupRoot()
			if err != nil {
				return fail("%s programs attach to a cgroup: pass --cgroup PATH, a folder of the cgroup v2 hierarchy (%v)", prefix, err)
			}
			return fail("%s programs attach to a cgroup: pass --cgroup PATH, or --cgroup %s to attach to the root cgroup (every process on the machine)", prefix, root)
		}
		p.Cgroup = opts.Cgroup

	case PerfEvent:
		p.Freq = opts.Freq
		if p.Freq == 0 {
			p.Freq = DefaultFreq
		}
	}
	return p, nil
}

// splitOffset splits "NAME+OFFSET" (OFFSET in Go integer syntax: 16, 0x10).
func splitOffset(s string) (string, uint64, error) {
	name, off, ok := strings.Cut(s, "+")
	if !ok {
		return s, 0, nil
	}
	n, err := strconv.ParseUint(off, 0, 64)
	if err != nil {
		return "", 0, fmt.Errorf("bad offset %q", off)
	}
	return name, n, nil
}

// parseUprobeTarget parses BINARY:SYMBOL[+OFFSET] or BINARY:ADDRESS (an
// absolute file offset, e.g. /bin/true:0x1234). The binary may itself
// start with a slash (libbpf's "uprobe//bin/bash:readline").
func parseUprobeTarget(s string) (bin, sym string, off uint64, err error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", 0, errors.New("want BINARY:SYMBOL[+OFFSET]")
	}
	bin, rest := s[:i], s[i+1:]
	if bin == "" {
		return "", "", 0, errors.New("no binary before ':' (want BINARY:SYMBOL[+OFFSET])")
	}
	if rest == "" {
		return "", "", 0, errors.New("no symbol after ':' (want BINARY:SYMBOL[+OFFSET])")
	}
	if rest[0] >= '0' && rest[0] <= '9' {
		n, err := strconv.ParseUint(rest, 0, 64)
		if err != nil {
			return "", "", 0, fmt.Errorf("bad address %q", rest)
		}
		return bin, "", n, nil
	}
	sym, off, err = splitOffset(rest)
	if err != nil {
		return "", "", 0, err
	}
	if sym == "" {
		return "", "", 0, errors.New("no symbol before '+'")
	}
	return bin, sym, off, nil
}

func multiarch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64-linux-gnu"
	case "arm64":
		return "aarch64-linux-gnu"
	case "riscv64":
		return "riscv64-linux-gnu"
	case "s390x":
		return "s390x-linux-gnu"
	case "ppc64le":
		return "powerpc64le-linux-gnu"
	}
	return runtime.GOARCH + "-linux-gnu"
}

// SyscallPrefix is the prefix of syscall entry points on kernels built
// with syscall wrappers (4.17+ on x86_64): ksyscall/openat probes
// SyscallPrefix(GOARCH)+"sys_openat", e.g. __x64_sys_openat. Unknown
// architectures get "" (plain sys_openat).
func SyscallPrefix(goarch string) string {
	switch goarch {
	case "386":
		return "__ia32_"
	case "amd64":
		return "__x64_"
	case "arm":
		return "__arm_"
	case "arm64":
		return "__arm64_"
	case "s390x":
		return "__s390x_"
	case "riscv64":
		return "__riscv_"
	case "ppc64", "ppc64le":
		return "__powerpc64_"
	case "mips", "mipsle", "mips64", "mips64le":
		return "__mips_"
	}
	return ""
}
