package runtime

import (
	"errors"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/loader"
)

// ProgramState is what became of one program of a run (Options.Programs).
type ProgramState struct {
	Name, Section string
	// State is one of StateAttached, StateTwin, StateManual, StateSkipped,
	// StateFailed.
	State string
	// Reason says why a program is not attached when that is by a rule
	// (a skipped plan, a twin that runs instead, a manual attachment).
	Reason string
	// Err is why a failed program did not load or attach (a
	// *loader.VerifierError holds the verifier's log).
	Err error
}

// Program states.
const (
	StateAttached = "attached"
	StateTwin     = "twin"
	StateManual   = "manual"
	StateSkipped  = "skipped"
	StateFailed   = "failed"
)

// states records what became of each program, for Options.Programs.
type states map[string]*ProgramState

func (s states) set(name, section, state, reason string, err error) {
	if s == nil {
		return
	}
	s[name] = &ProgramState{Name: name, Section: section, State: state, Reason: reason, Err: err}
}

// failed records a load or attach failure (a *ProgramError, or a
// *attach.PlanError that stops the run).
func (s states) failed(err error) {
	var pe *ProgramError
	var ple *attach.PlanError
	switch {
	case errors.As(err, &pe):
		s.set(pe.Program, pe.Section, StateFailed, "", pe.Err)
	case errors.As(err, &ple) && ple.Skip:
		s.set(ple.Program, ple.Section, StateSkipped, ple.Msg, nil)
	case errors.As(err, &ple):
		s.set(ple.Program, ple.Section, StateFailed, "", err)
	}
}

// report calls Options.Programs with the programs in name order.
func (s states) report(o *Options, spec *ebpf.CollectionSpec) {
	if o.Programs == nil || s == nil {
		return
	}
	out := make([]ProgramState, 0, len(s))
	for _, n := range loader.SortedPrograms(spec) {
		if st := s[n]; st != nil {
			out = append(out, *st)
		}
	}
	o.Programs(out)
}
