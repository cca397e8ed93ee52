package attach

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/packager/section"
)

// Sections libbpf does not know but that programs in the wild use.
//
// A name with leading dots, such as SEC(".xdp") (written for loaders that
// are told the program type, like ip link ... xdp obj X sec .xdp), is the
// section it names without them. cilium/ebpf leaves such programs without
// a type, so SetLegacyTypes gives them the type of that section before
// loading (section.Def.LegacyType), and PlanFor attaches them as that
// section.
//
// A name nothing matches but that cilium/ebpf loaded with a known program
// type (its own prefix rules, or a type set by the caller) is attached the
// way that type is: XDP on --ifname, SchedCLS as tc, cgroup types on
// --cgroup with the spec's attach type, and so on (defForType).

// lookupLegacy matches a section with leading dots as the section without
// them, if the program's type is the one that section gives.
func lookupLegacy(sec string, typ ebpf.ProgramType) (*section.Def, string, bool) {
	def, extra, ok := section.LookupDotted(sec)
	if !ok {
		return nil, "", false
	}
	if t, _, _, _ := def.LegacyType(extra); t != typ {
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
		def, extra, ok := section.LookupDotted(strings.TrimPrefix(ps.SectionName, "?"))
		if !ok {
			continue
		}
		ps.Type, ps.AttachType, ps.AttachTo, _ = def.LegacyType(extra)
		set = append(set, name)
	}
	return set
}

// defForType is the table entry for a program whose section name is
// unknown but whose type cilium/ebpf knows.
func defForType(spec *ebpf.ProgramSpec) (*section.Def, bool) {
	manual := func(reason string) (*section.Def, bool) {
		return &section.Def{Kind: Manual, Reason: reason}, true
	}
	switch spec.Type {
	case ebpf.UnspecifiedProgram:
		return nil, false
	case ebpf.XDP:
		if spec.AttachType == ebpf.AttachXDPDevMap || spec.AttachType == ebpf.AttachXDPCPUMap {
			return manual(section.ReasonDevmap)
		}
		return &section.Def{Kind: XDP, Attach: ebpf.AttachXDP}, true
	case ebpf.SchedCLS:
		at := spec.AttachType
		if at != ebpf.AttachTCXEgress {
			at = ebpf.AttachTCXIngress
		}
		return &section.Def{Kind: TC, Attach: at}, true
	case ebpf.SchedACT:
		return manual(section.ReasonAction)
	case ebpf.SocketFilter:
		return &section.Def{Kind: SocketFilter}, true
	case ebpf.PerfEvent:
		return &section.Def{Kind: PerfEvent, Attach: ebpf.AttachPerfEvent}, true
	case ebpf.CGroupSKB, ebpf.CGroupSock, ebpf.CGroupSockAddr, ebpf.CGroupSysctl,
		ebpf.CGroupSockopt, ebpf.CGroupDevice, ebpf.SockOps:
		if spec.AttachType != ebpf.AttachNone {
			return &section.Def{Kind: Cgroup, Attach: spec.AttachType}, true
		}
	}
	return manual(fmt.Sprintf("section %q is not a libbpf section name; the program loads as type %s, but the name does not say where to attach it",
		strings.TrimPrefix(spec.SectionName, "?"), spec.Type))
}
