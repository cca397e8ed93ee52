package attach

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
)

// Sections libbpf does not know but that programs in the wild use.
//
// A name with leading dots, such as SEC(".xdp") (written for loaders that
// are told the program type, like ip link ... xdp obj X sec .xdp), is the
// section it names without them. cilium/ebpf leaves such programs without
// a type, so SetLegacyTypes gives them the type of that section before
// loading, and PlanFor attaches them as that section.
//
// A name nothing matches but that cilium/ebpf loaded with a known program
// type (its own prefix rules, or a type set by the caller) is attached the
// way that type is: XDP on --ifname, SchedCLS as tc, cgroup types on
// --cgroup with the spec's attach type, and so on (defForType).

// legacyType is the program type of sections whose programs SetLegacyTypes
// can type: those whose section alone determines it.
func legacyType(def *secDef, extra string) (ebpf.ProgramType, ebpf.AttachType, string, bool) {
	switch def.kind {
	case XDP:
		return ebpf.XDP, ebpf.AttachXDP, "", true
	case TC, TCX:
		at := def.attach
		if def.pattern == "tc" || def.pattern == "classifier" {
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

// lookupLegacy matches a section with leading dots as the section without
// them, if the program's type is the one that section gives.
func lookupLegacy(section string, typ ebpf.ProgramType) (*secDef, string, bool) {
	bare := strings.TrimLeft(section, ".")
	if bare == section || bare == "" {
		return nil, "", false
	}
	def, extra, ok := lookupSection(bare)
	if !ok {
		return nil, "", false
	}
	if t, _, _, ok := legacyType(def, extra); !ok || t != typ {
		return nil, "", false
	}
	return def, extra, true
}

// SetLegacyTypes gives the programs of spec that cilium/ebpf left without
// a program type, and whose section is a known one behind leading dots
// (SEC(".xdp")), the type of that section, so that they load. It returns
// their names.
func SetLegacyTypes(spec *ebpf.CollectionSpec) []string {
	var set []string
	for name, ps := range spec.Programs {
		if ps.Type != ebpf.UnspecifiedProgram {
			continue
		}
		section := strings.TrimPrefix(ps.SectionName, "?")
		bare := strings.TrimLeft(section, ".")
		if bare == section || bare == "" {
			continue
		}
		def, extra, ok := lookupSection(bare)
		if !ok {
			continue
		}
		t, at, to, ok := legacyType(def, extra)
		if !ok {
			continue
		}
		ps.Type, ps.AttachType, ps.AttachTo = t, at, to
		set = append(set, name)
	}
	return set
}

// defForType is the table entry for a program whose section name is
// unknown but whose type cilium/ebpf knows.
func defForType(spec *ebpf.ProgramSpec) (*secDef, bool) {
	manual := func(reason string) (*secDef, bool) {
		return &secDef{kind: Manual, reason: reason}, true
	}
	switch spec.Type {
	case ebpf.UnspecifiedProgram:
		return nil, false
	case ebpf.XDP:
		if spec.AttachType == ebpf.AttachXDPDevMap || spec.AttachType == ebpf.AttachXDPCPUMap {
			return manual(reasonDevmap)
		}
		return &secDef{kind: XDP, attach: ebpf.AttachXDP}, true
	case ebpf.SchedCLS:
		at := spec.AttachType
		if at != ebpf.AttachTCXEgress {
			at = ebpf.AttachTCXIngress
		}
		return &secDef{kind: TC, attach: at}, true
	case ebpf.SchedACT:
		return manual(reasonAction)
	case ebpf.SocketFilter:
		return &secDef{kind: SocketFilter}, true
	case ebpf.PerfEvent:
		return &secDef{kind: PerfEvent, attach: ebpf.AttachPerfEvent}, true
	case ebpf.CGroupSKB, ebpf.CGroupSock, ebpf.CGroupSockAddr, ebpf.CGroupSysctl,
		ebpf.CGroupSockopt, ebpf.CGroupDevice, ebpf.SockOps:
		if spec.AttachType != ebpf.AttachNone {
			return &secDef{kind: Cgroup, attach: spec.AttachType}, true
		}
	}
	return manual(fmt.Sprintf("section %q is not a libbpf section name; the program loads as type %s, but the name does not say where to attach it",
		strings.TrimPrefix(spec.SectionName, "?"), spec.Type))
}
