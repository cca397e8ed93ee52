package packager

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/internal/termsafe"
)

// ErrMismatch is wrapped by the errors of CheckObject: the metadata does
// not describe the package's object.
var ErrMismatch = errors.New("the metadata disagrees with the object")

// MismatchError is one way in which the metadata disagrees with the object.
// Its message names both sides, e.g.
//
//	package.json says program handle_exec is SEC("tp/sched/sched_process_exec") but the object has it in SEC("cgroup_skb/egress")
type MismatchError struct {
	// Kind is "program" or "map"; Name the program or map.
	Kind, Name string
	// Msg is the whole message.
	Msg string
	// More counts the other disagreements found (only the first is told).
	More int
}

func (e *MismatchError) Error() string {
	switch {
	case e.More == 1:
		return e.Msg + " (and 1 more disagreement)"
	case e.More > 1:
		return fmt.Sprintf("%s (and %d more disagreements)", e.Msg, e.More)
	}
	return e.Msg
}

func (e *MismatchError) Unwrap() error { return ErrMismatch }

// CheckObject checks that the metadata describes the package's object
// (CheckSpec). A package without object (a NAME.skel.json) passes.
func (p *Package) CheckObject() error {
	if p.Object == nil {
		return nil
	}
	spec, err := bpfobj.LoadSpec(p.Object)
	if err != nil {
		return fmt.Errorf("read BPF object: %w", err)
	}
	return CheckSpec(&p.Meta, spec)
}

// CheckSpec checks that the metadata describes the object spec was read
// from: what ecli attaches and ecc inspect shows comes from the object,
// and metadata that says otherwise is a lie. The rules:
//
//   - every program meta.bpf_skel.progs lists is in the object, in the
//     section its attach field says (the whole SEC string);
//   - when progs lists any program, it lists every program of the object;
//   - every map meta.bpf_skel.maps lists is in the object. Data sections
//     are listed the way libbpf names their maps: up to 8 characters of the
//     object's name before the section (execsnoo.rodata), truncated to 15
//     characters, or the bare section (.rodata.str1.1); .kconfig stands for
//     the object's __kconfig externs. The object may have maps the list
//     lacks: maps are not attached, they only go undescribed.
//
// Absent (empty or null) progs and maps are no disagreement: eunomia's
// packages may omit them. The error is a *MismatchError naming both sides
// of the first disagreement, in the order of the metadata.
func CheckSpec(m *Meta, spec *ebpf.CollectionSpec) error {
	var errs []*MismatchError
	add := func(kind, name, format string, args ...any) {
		errs = append(errs, &MismatchError{Kind: kind, Name: name, Msg: fmt.Sprintf(format, args...)})
	}
	s := &m.BpfSkel
	progNames := slices.Sorted(maps.Keys(spec.Programs))
	listed := map[string]bool{}
	for _, p := range s.Progs {
		listed[p.Name] = true
		ps := spec.Programs[p.Name]
		switch {
		case ps == nil:
			add("program", p.Name, "package.json lists program %s in SEC(%q) but the object has no such program (it has %s)",
				termsafe.Line(p.Name), p.Attach, termsafe.List(progNames, 8))
		case ps.SectionName != p.Attach:
			add("program", p.Name, "package.json says program %s is SEC(%q) but the object has it in SEC(%q)",
				termsafe.Line(p.Name), p.Attach, ps.SectionName)
		}
	}
	if len(s.Progs) > 0 {
		var have []string
		for _, p := range s.Progs {
			have = append(have, p.Name)
		}
		for _, n := range progNames {
			if !listed[n] {
				add("program", n, "the object has program %s in SEC(%q) but package.json does not list it (it lists %s)",
					termsafe.Line(n), spec.Programs[n].SectionName, termsafe.List(have, 8))
			}
		}
	}
	for _, mp := range s.Maps {
		if !hasMap(spec, mp.Name) {
			add("map", mp.Name, "package.json lists map %s but the object has no such map (it has %s)",
				termsafe.Line(mp.Name), termsafe.List(slices.Sorted(maps.Keys(spec.Maps)), 8))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	e := errs[0]
	e.More = len(errs) - 1
	return e
}

// libbpfNameMax is the longest map name libbpf gives (BPF_OBJ_NAME_LEN - 1).
const libbpfNameMax = 15

// hasMap reports whether the object has the map the metadata calls name.
func hasMap(spec *ebpf.CollectionSpec, name string) bool {
	if spec.Maps[name] != nil {
		return true
	}
	// A data section: PREFIX.SECTION (PREFIX: ≤ 8 characters of the
	// object's name, none for sections with a dot of their own).
	i := strings.IndexByte(name, '.')
	if i < 0 || i > 8 {
		return false
	}
	sec := name[i:]
	if sec == ".kconfig" {
		var ds *btf.Datasec
		return spec.Maps[sec] != nil || (spec.Types != nil && spec.Types.TypeByName(bpfobj.KconfigDatasec, &ds) == nil)
	}
	if !isDataSection(sec) {
		return false
	}
	if spec.Maps[sec] != nil {
		return true
	}
	if len(name) == libbpfNameMax { // truncated by libbpf
		for n := range spec.Maps {
			if isDataSection(n) && strings.HasPrefix(n, sec) {
				return true
			}
		}
	}
	return false
}

func isDataSection(name string) bool {
	for _, p := range []string{".rodata", ".data", ".bss"} {
		if name == p || strings.HasPrefix(name, p+".") {
			return true
		}
	}
	return false
}
