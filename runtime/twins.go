package runtime

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/loader"
)

// Twins (see attach.Twins): of the programs that hook one place in
// different ways, one kind is attached, the best the kernel takes. Only
// the preferred kind is loaded up front; the next is loaded when it fails
// to load or to attach, and so on. -v says which one runs; when none can,
// each program gets its own line.

// twinState tracks the twin groups of a run.
type twinState struct {
	groups  []*attach.TwinGroup
	of      map[string]*attach.TwinGroup
	loadErr map[string]error
}

func newTwins(set *attach.PlanSet) *twinState {
	t := &twinState{groups: set.Twins, of: map[string]*attach.TwinGroup{}, loadErr: map[string]error{}}
	for _, g := range set.Twins {
		for _, c := range g.Classes {
			for _, n := range c {
				t.of[n] = g
			}
		}
	}
	return t
}

// member reports whether the program is one of a group of twins.
func (t *twinState) member(name string) bool { return t.of[name] != nil }

// loadFailed keeps the load error of a twin, to report once its group is
// resolved; false for programs that are no twins.
func (t *twinState) loadFailed(pe *loader.ProgramError) bool {
	if !t.member(pe.Program) {
		return false
	}
	t.loadErr[pe.Program] = pe
	return true
}

// twinProgram returns the loaded twin, loading it now if it was deferred.
func (r *runner) twinProgram(name string) (*ebpf.Program, error) {
	if err := r.twins.loadErr[name]; err != nil {
		return nil, err
	}
	if p := r.progs[name]; p != nil {
		return p, nil
	}
	p, err := r.coll.LoadProgram(name)
	if err != nil {
		r.twins.loadErr[name] = err
		return nil, err
	}
	return p, nil
}

// attachTwins attaches one kind of each twin group and returns how many
// programs it attached and the errors of groups none of whose kinds runs.
func (r *runner) attachTwins(plans map[string]*attach.Plan) (int, []error) {
	attached := 0
	var failures []error
	for _, g := range r.twins.groups {
		failed := map[string]error{}
		tryClass := func(class []string) ([]attach.Link, []string) {
			var links []attach.Link
			var ok []string
			for _, name := range class {
				plan := plans[name]
				prog, err := r.twinProgram(name)
				if err == nil {
					var l attach.Link
					fmt.Fprintf(r.o.Stderr, "ecli: %s\n", plan.Line())
					if l, err = attach.Attach(prog, plan); err == nil {
						links = append(links, l)
						ok = append(ok, name)
						continue
					}
					err = &ProgramError{Program: name, Section: plan.Section, Err: loader.Explain(err, r.o.Verbose)}
				}
				failed[name] = err
			}
			return links, ok
		}
		chosen, bestPartial, bestN := -1, -1, 0
		var links []attach.Link
		var names []string
		for ci, class := range g.Classes {
			ls, ok := tryClass(class)
			if len(ok) == len(class) {
				chosen, links, names = ci, ls, ok
				break
			}
			if len(ok) > bestN {
				bestPartial, bestN = ci, len(ok)
			}
			for _, l := range ls {
				l.Close()
			}
		}
		if chosen < 0 && bestPartial >= 0 {
			// No kind runs whole: keep the one that runs most, and report
			// the programs of that kind that do not.
			chosen = bestPartial
			for _, n := range g.Classes[chosen] {
				delete(failed, n)
			}
			links, names = tryClass(g.Classes[chosen])
		}
		if chosen < 0 {
			for _, c := range g.Classes {
				for _, n := range c {
					failures = append(failures, failed[n])
				}
			}
			continue
		}
		for _, n := range g.Classes[chosen] {
			if err := failed[n]; err != nil {
				failures = append(failures, err)
			}
		}
		r.links = append(r.links, links...)
		attached += len(links)
		r.twinStates(g, chosen, names, failed, plans)
		if r.o.Verbose {
			for _, n := range names {
				fmt.Fprintf(r.o.Stderr, "ecli: %s: %s (%s)\n", n, strings.TrimPrefix(plans[n].Section, "?"), r.twinNote(g, chosen, failed, plans))
			}
		}
	}
	return attached, failures
}

// twinStates records the attached twins, and the others as standing in
// reserve (with why they failed, if they were tried).
func (r *runner) twinStates(g *attach.TwinGroup, chosen int, attached []string, failed map[string]error, plans map[string]*attach.Plan) {
	if r.states == nil {
		return
	}
	for _, n := range attached {
		r.states.set(n, plans[n].Section, StateAttached, "", nil)
	}
	var runs []string
	for _, n := range g.Classes[chosen] {
		runs = append(runs, strings.TrimPrefix(plans[n].Section, "?"))
	}
	for ci, c := range g.Classes {
		if ci == chosen {
			continue
		}
		for _, n := range c {
			reason := "twin " + strings.Join(runs, ", ") + " runs instead"
			if err := failed[n]; err != nil {
				reason += "; this one failed: " + shortReason(err)
			}
			r.states.set(n, plans[n].Section, StateTwin, reason, nil)
		}
	}
}

// twinNote says what became of the other twins: "raw_tp/x twin not
// attached", "tp_btf/x twin failed: not supported by this kernel".
func (r *runner) twinNote(g *attach.TwinGroup, chosen int, failed map[string]error, plans map[string]*attach.Plan) string {
	var parts []string
	for ci, c := range g.Classes {
		if ci == chosen {
			continue
		}
		for _, n := range c {
			sec := strings.TrimPrefix(plans[n].Section, "?")
			if err := failed[n]; err != nil {
				parts = append(parts, sec+" twin failed: "+shortReason(err))
			} else {
				parts = append(parts, sec+" twin not attached")
			}
		}
	}
	return strings.Join(parts, "; ")
}

// shortReason is the first line of why a program failed, without the
// program's name; for a verifier rejection, the verifier's reason.
func shortReason(err error) string {
	var pe *ProgramError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var s string
	var ve *loader.VerifierError
	if errors.As(err, &ve) {
		s = "rejected by the verifier"
		if r := ve.Reason(); r != "" {
			s += ": " + r
		}
	} else {
		s, _, _ = strings.Cut(err.Error(), "\n")
		s = strings.TrimSuffix(s, ":")
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
