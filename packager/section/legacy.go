package section

import (
	"strings"

	"github.com/cilium/ebpf"
)

// LegacyType is the program type, attach type and attach target of the
// programs of a section whose name alone determines them: what a program
// in SEC(".xdp") (written for loaders told the type, like ip link ... xdp
// obj X sec .xdp) is given, since cilium/ebpf leaves it untyped. extra is
// the text after the section's first slash.
func (d *Def) LegacyType(extra string) (ebpf.ProgramType, ebpf.AttachType, string, bool) {
	switch d.Kind {
	case XDP:
		return ebpf.XDP, ebpf.AttachXDP, "", true
	case TC, TCX:
		at := d.Attach
		if d.Pattern == "tc" || d.Pattern == "classifier" {
			at = ebpf.AttachNone
		}
		return ebpf.SchedCLS, at, "", true
	case SocketFilter:
		return ebpf.SocketFilter, ebpf.AttachNone, "", true
	case PerfEvent:
		return ebpf.PerfEvent, ebpf.AttachNone, "", true
	case Tracepoint:
		return ebpf.TracePoint, ebpf.AttachNone, extra, true
	case RawTracepoint:
		return ebpf.RawTracepoint, ebpf.AttachNone, extra, true
	case Kprobe, Kretprobe, Uprobe, Uretprobe:
		return ebpf.Kprobe, ebpf.AttachNone, extra, true
	}
	return ebpf.UnspecifiedProgram, ebpf.AttachNone, "", false
}

// LookupDotted matches a section name with leading dots, SEC(".xdp"), as
// the name without them, when that section gives its programs a type
// (LegacyType). It returns the entry and the text after the first slash.
func LookupDotted(section string) (*Def, string, bool) {
	bare := strings.TrimLeft(section, ".")
	if bare == section || bare == "" {
		return nil, "", false
	}
	d, extra, ok := Lookup(bare)
	if !ok {
		return nil, "", false
	}
	if _, _, _, ok := d.LegacyType(extra); !ok {
		return nil, "", false
	}
	return d, extra, true
}
