package attach

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// ErrNotSupported says the running kernel cannot load or attach a program
// of this kind (a config option is off, the kernel is too old, or the
// lockdown/LSM policy forbids it). Attach wraps it into such errors;
// IsNotSupported also recognises the raw errors of loading.
var ErrNotSupported = errors.New("not supported by this kernel")

// ErrManual is returned by Attach for plans of Kind Manual: the program is
// loaded but the runtime does not attach it by itself.
var ErrManual = errors.New("not attached automatically")

// enotsupp is the kernel-internal ENOTSUPP (524) that leaks out of some
// BPF paths (e.g. trampolines on architectures without them).
const enotsupp = syscall.Errno(524)

// NotSupportedError says why this kernel cannot load or attach a program.
// It matches ErrNotSupported; Err is the error that told, if any.
type NotSupportedError struct {
	// Reason is why, in words that leave the program to the caller to
	// name: "this kernel has no uprobes (CONFIG_UPROBE_EVENTS off): ...".
	Reason string
	Err    error
}

func (e *NotSupportedError) Error() string { return ErrNotSupported.Error() + ": " + e.Reason }

func (e *NotSupportedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrNotSupported}
	}
	return []error{ErrNotSupported, e.Err}
}

// notSupported is a *NotSupportedError: the reason, then err's text.
func notSupported(err error, format string, args ...any) error {
	return &NotSupportedError{Reason: fmt.Sprintf(format, args...) + ": " + err.Error(), Err: err}
}

// Error is a failed Attach: which program, attached how. Its text names
// them; Err is why.
type Error struct {
	// Program is the program's name, Target the plan (what it was
	// attached to, e.g. "raw tracepoint sched_process_exec").
	Program, Target string
	Err             error
}

func (e *Error) Error() string {
	return fmt.Sprintf("attach program %s (%s): %v", e.Program, e.Target, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// fallbackError tells how each way something was tried failed, and keeps
// only the failure that decides in its chain (err): the others are told,
// not matched, so that errors.Is and IsNotSupported see what decides.
// tcx's ebpf.ErrNotSupported, say, is why the clsact fallback ran, not
// what is wrong when that fails too.
type fallbackError struct {
	text string
	err  error
}

func (e *fallbackError) Error() string { return e.text }
func (e *fallbackError) Unwrap() error { return e.err }

// IsNotSupported reports whether err (from loading or attaching) means
// that this kernel cannot run the program: ErrNotSupported,
// ebpf.ErrNotSupported, EPERM (e.g. fentry/lsm refused by lockdown or a
// missing capability), EOPNOTSUPP and ENOTSUPP.
func IsNotSupported(err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, ErrNotSupported) || errors.Is(err, ebpf.ErrNotSupported) ||
		errors.Is(err, unix.EPERM) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, enotsupp)
}

// Link is an attached program. Close detaches it.
type Link interface {
	io.Closer
	// String says what is attached where, e.g. "xdp on lo (generic mode)".
	String() string
	// Links returns the cilium/ebpf links behind the attachment, e.g. one per
	// CPU for perf_event programs; none for a socket filter or a legacy tc
	// filter, which are not BPF links.
	Links() []link.Link
}

// IterLink is the Link of an iterator program (Kind Iter). Each Open
// runs the iterator once; read the returned reader to its end to get the
// program's output (what it wrote with bpf_seq_printf / BPF_SEQ_PRINTF).
type IterLink struct {
	iter *link.Iter
	desc string
}

// Open starts one pass of the iterator.
func (l *IterLink) Open() (io.ReadCloser, error) { return l.iter.Open() }

// Close detaches the iterator.
func (l *IterLink) Close() error { return l.iter.Close() }

func (l *IterLink) String() string     { return l.desc }
func (l *IterLink) Links() []link.Link { return []link.Link{l.iter} }

// links is a Link made of cilium/ebpf links, and maybe of file
// descriptors to close after them (perf events).
type links struct {
	desc string
	ls   []link.Link
	fds  []int
}

func (l *links) String() string     { return l.desc }
func (l *links) Links() []link.Link { return l.ls }

func (l *links) Close() error {
	var errs []error
	for _, x := range l.ls {
		if err := x.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, fd := range l.fds {
		if err := unix.Close(fd); err != nil {
			errs = append(errs, err)
		}
	}
	l.ls, l.fds = nil, nil
	return errors.Join(errs...)
}

func single(l link.Link, desc string) *links { return &links{desc: desc, ls: []link.Link{l}} }

// Attach performs plan for the loaded program prog. Close the returned
// Link to detach. Errors are an *Error, naming the program and the
// target; when the kernel lacks the feature they satisfy IsNotSupported
// and errors.Is(err, ErrNotSupported), and hold a *NotSupportedError.
func Attach(prog *ebpf.Program, plan *Plan) (Link, error) {
	if prog == nil || plan == nil {
		return nil, errors.New("attach: nil program or plan")
	}
	l, err := attach(prog, plan)
	if err != nil {
		if plan.Kind == Manual {
			return nil, err
		}
		if IsNotSupported(err) && !errors.Is(err, ErrNotSupported) {
			err = &NotSupportedError{Reason: err.Error(), Err: err}
		}
		return nil, &Error{Program: plan.Program, Target: plan.String(), Err: err}
	}
	return l, nil
}

func attach(prog *ebpf.Program, p *Plan) (Link, error) {
	switch p.Kind {
	case Manual:
		return nil, fmt.Errorf("section %s: programs of type %s are %w: %s", p.Section, p.Type, ErrManual, p.Reason)

	case Tracepoint:
		l, err := link.Tracepoint(p.Group, p.Name, prog, nil)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("tracepoint %s/%s does not exist in this kernel (see %s/events): %w", p.Group, p.Name, tracefsOr(), err)
		}
		if err != nil {
			return nil, err
		}
		return single(l, p.String()), nil

	case RawTracepoint:
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: p.Name, Program: prog})
		if err != nil {
			return nil, err
		}
		return single(l, p.String()), nil

	case TracingBTF:
		var l link.Link
		var err error
		if prog.Type() == ebpf.LSM {
			l, err = link.AttachLSM(link.LSMOptions{Program: prog})
		} else {
			l, err = link.AttachTracing(link.TracingOptions{Program: prog, AttachType: p.Attach})
		}
		if err != nil {
			return nil, err
		}
		return single(l, p.String()), nil

	case Kprobe, Kretprobe, Ksyscall, Kretsyscall:
		return attachKprobe(prog, p)

	case KprobeMulti, KretprobeMulti:
		return attachKprobeMulti(prog, p)

	case Uprobe, Uretprobe, UprobeMulti, UretprobeMulti:
		return attachUprobe(prog, p)

	case USDT:
		return attachUSDT(prog, p)

	case Iter:
		it, err := link.AttachIter(link.IterOptions{Program: prog})
		if err != nil {
			return nil, err
		}
		return &IterLink{iter: it, desc: p.String()}, nil

	case XDP:
		return attachXDP(prog, p)

	case TC, TCX:
		return attachTC(prog, p)

	case Cgroup:
		if st, err := os.Stat(p.Cgroup); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("cgroup %s: not a directory of the cgroup v2 hierarchy (--cgroup)", p.Cgroup)
		}
		l, err := link.AttachCgroup(link.CgroupOptions{Path: p.Cgroup, Attach: p.Attach, Program: prog})
		if err != nil {
			return nil, err
		}
		return single(l, p.String()), nil

	case SocketFilter:
		return attachSocket(prog, p)

	case PerfEvent:
		return attachPerfEvent(prog, p)
	}
	return nil, fmt.Errorf("section %s: no way to attach kind %s", p.Section, p.Kind)
}

func tracefsOr() string {
	if d := tracefsDir(); d != "" {
		return d
	}
	return "/sys/kernel/tracing"
}

// probesAvailable reports whether the kernel can create k/uprobes at all:
// through the perf PMU (4.17+) or tracefs' k/uprobe_events.
func probesAvailable(kind string) bool {
	if _, err := os.Stat("/sys/bus/event_source/devices/" + kind); err == nil {
		return true
	}
	if d := tracefsDir(); d != "" {
		if _, err := os.Stat(d + "/" + kind + "_events"); err == nil {
			return true
		}
	}
	return false
}

func attachKprobe(prog *ebpf.Program, p *Plan) (Link, error) {
	ret := p.Kind == Kretprobe || p.Kind == Kretsyscall
	do := func(sym string) (link.Link, error) {
		if ret {
			return link.Kretprobe(sym, prog, nil)
		}
		return link.Kprobe(sym, prog, &link.KprobeOptions{Offset: p.Offset})
	}
	l, err := do(p.Symbol)
	if err != nil && (p.Kind == Ksyscall || p.Kind == Kretsyscall) && (errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.EINVAL)) {
		// A kernel without syscall wrappers: the entry point is sys_NAME.
		if l2, err2 := do("sys_" + p.Name); err2 == nil {
			l, err = l2, nil
		}
	}
	if err != nil {
		if !probesAvailable("kprobe") {
			return nil, notSupported(err, "this kernel has no kprobes (CONFIG_KPROBES off: no %s and no kprobe_events in tracefs)",
				"/sys/bus/event_source/devices/kprobe")
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("kernel function %s not found (is it in /proc/kallsyms, and not inlined?): %w", p.Symbol, err)
		}
		return nil, err
	}
	return single(l, p.String()), nil
}

func hasGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

func attachKprobeMulti(prog *ebpf.Program, p *Plan) (Link, error) {
	syms := []string{p.Symbol}
	if hasGlob(p.Symbol) {
		var err error
		if syms, err = kernelFunctions(p.Symbol); err != nil {
			return nil, err
		}
	}
	opts := link.KprobeMultiOptions{Symbols: syms}
	var l link.Link
	var err error
	if p.Kind == KretprobeMulti {
		l, err = link.KretprobeMulti(prog, opts)
	} else {
		l, err = link.KprobeMulti(prog, opts)
	}
	if errors.Is(err, ebpf.ErrNotSupported) {
		return nil, notSupported(err, "kprobe.multi needs Linux 5.18+ built with CONFIG_FPROBE")
	}
	if err != nil {
		return nil, err
	}
	return single(l, fmt.Sprintf("%s (%d functions)", p, len(syms))), nil
}

// kernelFunctions lists the kernel functions matching a glob, from
// tracefs' available_filter_functions (the traceable ones, as libbpf
// does) or, when that cannot be read, from /proc/kallsyms.
func kernelFunctions(pattern string) ([]string, error) {
	var names []string
	src := ""
	if d := tracefsDir(); d != "" {
		src = d + "/available_filter_functions"
		if data, err := os.ReadFile(src); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				name, _, _ := strings.Cut(line, " ")
				names = append(names, name)
			}
		} else {
			src = ""
		}
	}
	if src == "" {
		src = "/proc/kallsyms"
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("kprobe.multi pattern %q: list kernel functions: %w", pattern, err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			// ffffffff81000000 T name [module]
			f := strings.Fields(line)
			if len(f) >= 3 && (f[1] == "t" || f[1] == "T") {
				names = append(names, f[2])
			}
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, name := range names {
		if name == "" || seen[name] || strings.HasPrefix(name, "__ftrace_invalid_address__") {
			continue
		}
		if ok, _ := path.Match(pattern, name); ok {
			seen[name] = true
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no kernel function matches %q (in %s)", pattern, src)
	}
	return out, nil
}

func attachUprobe(prog *ebpf.Program, p *Plan) (Link, error) {
	multi := p.Kind == UprobeMulti || p.Kind == UretprobeMulti
	ex, err := link.OpenExecutable(p.Binary)
	if err != nil {
		return nil, err
	}
	var l link.Link
	desc := p.String()
	switch p.Kind {
	case Uprobe, Uretprobe:
		// cilium/ebpf gets the file offset ecli resolved (elfsym.go), not
		// the name: its own lookup can pick the wrong version of a symbol.
		opts := &link.UprobeOptions{PID: p.PID, Address: p.Offset}
		sym := p.Symbol
		if sym != "" {
			fn, err := resolveSymbol(p.Binary, p.Symbol)
			if err != nil {
				return nil, err
			}
			if fn.size > 0 && p.Offset >= fn.size {
				return nil, fmt.Errorf("offset %#x is beyond the end of %s (%d bytes)", p.Offset, fn.name, fn.size)
			}
			opts.Address, opts.Offset = fn.offset, p.Offset
			sym, _, _ = splitVersion(sym)
		} else {
			sym = fmt.Sprintf("addr_%x", p.Offset)
		}
		if p.Kind == Uretprobe {
			l, err = ex.Uretprobe(sym, prog, opts)
		} else {
			l, err = ex.Uprobe(sym, prog, opts)
		}
	default:
		var names []string
		var offsets []uint64
		if hasGlob(p.Symbol) {
			if names, offsets, err = elfFunctions(p.Binary, p.Symbol); err != nil {
				return nil, err
			}
		} else {
			fn, err := resolveSymbol(p.Binary, p.Symbol)
			if err != nil {
				return nil, err
			}
			names, offsets = []string{fn.name}, []uint64{fn.offset}
		}
		desc = fmt.Sprintf("%s (%d functions)", desc, len(names))
		opts := &link.UprobeMultiOptions{PID: uint32(p.PID), Addresses: offsets}
		if p.Kind == UretprobeMulti {
			l, err = ex.UretprobeMulti(nil, prog, opts)
		} else {
			l, err = ex.UprobeMulti(nil, prog, opts)
		}
	}
	if err != nil {
		if !multi && !probesAvailable("uprobe") {
			return nil, notSupported(err, "this kernel has no uprobes (CONFIG_UPROBE_EVENTS off)")
		}
		return nil, err
	}
	return single(l, desc), nil
}

func ifIndex(name string) (int, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("network interface %q (--ifname): %w", name, err)
	}
	return ifc.Index, nil
}

func attachXDP(prog *ebpf.Program, p *Plan) (Link, error) {
	idx, err := ifIndex(p.IfName)
	if err != nil {
		return nil, err
	}
	l, errDrv := link.AttachXDP(link.XDPOptions{Program: prog, Interface: idx, Flags: link.XDPDriverMode})
	if errDrv == nil {
		return single(l, p.String()+" (driver mode)"), nil
	}
	l, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: idx, Flags: link.XDPGenericMode})
	if err != nil {
		return nil, &fallbackError{text: fmt.Sprintf("driver mode: %v; generic mode: %v", errDrv, err), err: err}
	}
	return single(l, p.String()+" (generic mode)"), nil
}
