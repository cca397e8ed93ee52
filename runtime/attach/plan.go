package attach

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/termsafe"
	"github.com/ecc-bpf/ecc/packager/section"
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

// Kind says how a program is attached (the kinds of the section table,
// packager/section).
type Kind = section.Kind

// The kinds of attachment. Each Plan has one; see section.Kind.
const (
	None           = section.None
	Tracepoint     = section.Tracepoint
	RawTracepoint  = section.RawTracepoint
	TracingBTF     = section.TracingBTF
	Kprobe         = section.Kprobe
	Kretprobe      = section.Kretprobe
	Ksyscall       = section.Ksyscall
	Kretsyscall    = section.Kretsyscall
	KprobeMulti    = section.KprobeMulti
	KretprobeMulti = section.KretprobeMulti
	Uprobe         = section.Uprobe
	Uretprobe      = section.Uretprobe
	UprobeMulti    = section.UprobeMulti
	UretprobeMulti = section.UretprobeMulti
	USDT           = section.USDT
	Iter           = section.Iter
	XDP            = section.XDP
	TC             = section.TC
	TCX            = section.TCX
	Cgroup         = section.Cgroup
	SocketFilter   = section.SocketFilter
	PerfEvent      = section.PerfEvent
	Manual         = section.Manual
)

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

const (
	reasonMapIter  = "this iterator walks one map, which the runtime cannot choose; attach it with link.AttachIter and IterOptions.Map"
	reasonNoTarget = "the section names no target (write SEC(\"%s/TARGET\") to attach it automatically)"
)

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
	sec := strings.TrimPrefix(spec.SectionName, "?")
	p := &Plan{Program: spec.Name, Section: spec.SectionName, Type: spec.Type}
	// fail: the user's flags are at fault (or must be given).
	fail := func(format string, args ...any) (*Plan, error) {
		return nil, &PlanError{Program: spec.Name, Section: spec.SectionName, Msg: fmt.Sprintf(format, args...)}
	}
	// skip: this program cannot run here; the others can.
	skip := func(format string, args ...any) (*Plan, error) {
		return nil, &PlanError{Program: spec.Name, Section: spec.SectionName, Msg: fmt.Sprintf(format, args...), Skip: true}
	}

	def, extra, ok := section.Lookup(sec)
	if !ok {
		def, extra, ok = lookupLegacy(sec, spec.Type)
	}
	if !ok {
		if def, ok = defForType(spec); !ok {
			msg := fmt.Sprintf("unknown section name %q: not a libbpf program section, so ecli can neither load nor attach it", sec)
			if s := section.Suggest(sec); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return skip("%s", msg)
		}
		extra = ""
	}
	p.Kind, p.Attach = def.Kind, def.Attach
	prefix, _, _ := strings.Cut(sec, "/")
	manual := func(reason string) (*Plan, error) {
		p.Kind, p.Attach, p.Reason = Manual, 0, reason
		return p, nil
	}
	// noTarget: the section names no valid target; the program may be a
	// tail call or be attached by the tool's own user space.
	noTarget := func(format string, args ...any) (*Plan, error) {
		return manual("the section names no valid target: " + fmt.Sprintf(format, args...))
	}

	switch def.Kind {
	case Manual:
		return manual(def.Reason)

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
		if def.Kind == Iter && (extra == "bpf_map_elem" || extra == "sockmap" || extra == "bpf_sk_storage_map") {
			return manual(reasonMapIter)
		}
		if def.Kind == TracingBTF && (def.Attach == ebpf.AttachTraceFEntry || def.Attach == ebpf.AttachTraceFExit || def.Attach == ebpf.AttachModifyReturn) && isPlaceholder(extra) {
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
		if off != 0 && def.Kind == Kretprobe {
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
		if err := planUprobe(p, def.Kind, extra, flags); err != nil {
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
