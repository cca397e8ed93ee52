package attach

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/packager/section"
)

// PlanError says why a program could not be planned.
type PlanError struct {
	Program, Section string
	// Msg says what is wrong and what to do.
	Msg string
	// Skip is true when the program cannot run here but the others can
	// (a bare uprobe nobody gave a target, a binary its section names that
	// is not installed, a placeholder target, an unknown section name).
	// Otherwise the user's flags are at fault or must be given (a missing
	// --ifname, a malformed --uprobe value): runners stop.
	Skip bool
	// Err is the error Msg tells, if any (a malformed --uprobe value's).
	Err error
}

func (e *PlanError) Error() string {
	return fmt.Sprintf("program %s (SEC(%q)): %s", e.Program, e.Section, e.Msg)
}

func (e *PlanError) Unwrap() error { return e.Err }

// PlanSet is the plan of a whole object.
type PlanSet struct {
	// Plans has a plan for every program to load: attached, or only
	// noted when of Kind Manual.
	Plans map[string]*Plan
	// Skipped are the programs not to load, each a *PlanError with Skip.
	Skipped []error
	// Warnings are problems with the options that stop nothing (an
	// --uprobe value no program takes).
	Warnings []string
	// Twins are the groups of programs that hook the same place in
	// different ways, of which one kind is attached (see Twins).
	Twins []*TwinGroup
	// Retyped are the programs SetLegacyTypes gave a type (SEC(".xdp")).
	Retyped []string
}

// Deferred lists the programs not to load up front: the skipped ones and
// every twin but those of the preferred kind, loaded only if that one
// fails.
func (s *PlanSet) Deferred() []string {
	var out []string
	for _, e := range s.Skipped {
		if pe, ok := e.(*PlanError); ok {
			out = append(out, pe.Program)
		}
	}
	for _, g := range s.Twins {
		for _, c := range g.Classes[1:] {
			out = append(out, c...)
		}
	}
	sort.Strings(out)
	return out
}

// PlanAll plans every program of spec. It first gives programs cilium/ebpf
// left untyped the type of their legacy section (SetLegacyTypes), then
// applies the --uprobe rules that need the whole object ("Uprobe
// targets"), then plans each program with PlanFor's rules. A program that
// cannot run here is in Skipped; an error means the user's flags are at
// fault (it names the flag), and nothing should run.
func PlanAll(spec *ebpf.CollectionSpec, opts *Options) (*PlanSet, error) {
	if opts == nil {
		opts = &Options{}
	}
	set := &PlanSet{Plans: map[string]*Plan{}}
	set.Retyped = SetLegacyTypes(spec)
	sort.Strings(set.Retyped)
	flags, err := parseUprobeValues(opts.Uprobe)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(spec.Programs))
	for n := range spec.Programs {
		names = append(names, n)
	}
	sort.Strings(names)

	// Which programs are uprobes, bare or naming a function alone.
	var uprobes []string
	bare, symOnly := map[string]bool{}, map[string]bool{}
	for _, n := range names {
		ps := spec.Programs[n]
		def, extra, ok := section.Lookup(strings.TrimPrefix(ps.SectionName, "?"))
		if !ok {
			continue
		}
		switch def.Kind {
		case Uprobe, Uretprobe, UprobeMulti, UretprobeMulti:
		default:
			continue
		}
		uprobes = append(uprobes, n)
		if flags.byProg[n] != nil {
			continue
		}
		if extra == "" {
			bare[n] = def.Kind == Uretprobe || def.Kind == UretprobeMulti
		} else if _, sym, _, err := sectionUprobe(extra); err == nil && !strings.Contains(extra, ":") {
			symOnly[sym] = true
		}
	}
	for _, v := range flags.all {
		if v.prog == "" {
			continue
		}
		if spec.Programs[v.prog] == nil || !slices.Contains(uprobes, v.prog) {
			what := "no program " + v.prog
			if spec.Programs[v.prog] != nil {
				what = fmt.Sprintf("program %s is not a uprobe (SEC(%q))", v.prog, spec.Programs[v.prog].SectionName)
			}
			have := "none"
			if len(uprobes) > 0 {
				have = strings.Join(uprobes, ", ")
			}
			return nil, fmt.Errorf("--uprobe %s: the package has %s (its uprobe programs: %s)", v.raw, what, have)
		}
	}
	if err := flags.decideBare(bare, symOnly); err != nil {
		return nil, err
	}

	for _, n := range names {
		p, err := planFor(spec.Programs[n], opts, flags)
		if err != nil {
			if pe, ok := err.(*PlanError); ok && pe.Skip {
				set.Skipped = append(set.Skipped, pe)
				continue
			}
			return nil, err
		}
		set.Plans[n] = p
	}
	for _, v := range flags.all {
		if !v.used {
			set.Warnings = append(set.Warnings, fmt.Sprintf("--uprobe %s applies to no program of the package", v.raw))
		}
	}
	set.Twins = Twins(set.Plans)
	return set, nil
}
