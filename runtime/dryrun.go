package runtime

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/termsafe"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/runtime/loader"
)

// PlannedProgram is one program of ecli run --dry-run's JSON plan.
type PlannedProgram struct {
	Name    string `json:"name"`
	Section string `json:"section"`
	Type    string `json:"type"`
	// Action is what the run would do: "attach"; "fallback" (a twin,
	// loaded and attached only if those in FallbackFor fail); "load" (loaded
	// but not attached automatically: Reason says why); "skip" (not
	// loaded: Reason says why).
	Action string `json:"action"`
	// Kind and Target say how and where it would be attached
	// (attach.Plan's Kind and String).
	Kind   string `json:"kind,omitempty"`
	Target string `json:"target,omitempty"`
	// IfName, Cgroup and Binary are the plan's interface, cgroup and
	// traced binary, when it has one.
	IfName string `json:"ifname,omitempty"`
	Cgroup string `json:"cgroup,omitempty"`
	Binary string `json:"binary,omitempty"`
	// FallbackFor are the preferred twins a fallback stands in for.
	FallbackFor []string `json:"fallback_for,omitempty"`
	Reason      string   `json:"reason,omitempty"`
}

// DryRunPlan is ecli run --dry-run's JSON output.
type DryRunPlan struct {
	Package  string           `json:"package"`
	Programs []PlannedProgram `json:"programs"`
	Warnings []string         `json:"warnings,omitempty"`
}

// dryRunPlan lists what Run would do with every program of spec.
func dryRunPlan(name string, spec *ebpf.CollectionSpec, set *attach.PlanSet) *DryRunPlan {
	d := &DryRunPlan{Package: name, Programs: []PlannedProgram{}, Warnings: set.Warnings}
	skipped := map[string]string{}
	for _, e := range set.Skipped {
		if pe, ok := e.(*attach.PlanError); ok {
			skipped[pe.Program] = pe.Msg
		}
	}
	// fallbackFor: the twins of a preferred kind a program stands in for.
	fallbackFor := map[string][]string{}
	for _, g := range set.Twins {
		for i, c := range g.Classes[1:] {
			var before []string
			for _, prev := range g.Classes[:i+1] {
				before = append(before, prev...)
			}
			for _, n := range c {
				fallbackFor[n] = before
			}
		}
	}
	for _, n := range loader.SortedPrograms(spec) {
		ps := spec.Programs[n]
		pp := PlannedProgram{Name: n, Section: ps.SectionName, Type: ps.Type.String()}
		plan := set.Plans[n]
		switch {
		case plan == nil:
			pp.Action, pp.Reason = "skip", skipped[n]
		case plan.Kind == attach.Manual:
			pp.Action, pp.Reason = "load", plan.Reason
		default:
			pp.Action, pp.Kind, pp.Target = "attach", plan.Kind.String(), plan.String()
			pp.IfName, pp.Cgroup, pp.Binary = plan.IfName, plan.Cgroup, plan.Binary
			if f := fallbackFor[n]; f != nil {
				pp.Action, pp.FallbackFor = "fallback", f
			}
		}
		d.Programs = append(d.Programs, pp)
	}
	return d
}

// writeDryRun prints the plan on o.Stdout: one line per program, as the
// run prints them before attaching, or JSON with o.JSON.
func writeDryRun(o *Options, name string, spec *ebpf.CollectionSpec, set *attach.PlanSet) error {
	d := dryRunPlan(name, spec, set)
	if o.JSON {
		enc := json.NewEncoder(o.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: dry run, nothing loaded; ecli run would:\n", termsafe.Line(name))
	for _, p := range d.Programs {
		n := termsafe.Line(p.Name)
		switch p.Action {
		case "attach":
			fmt.Fprintf(&b, "  %s\n", set.Plans[p.Name].Line())
		case "fallback":
			fmt.Fprintf(&b, "  %s (only if %s cannot be loaded or attached)\n", set.Plans[p.Name].Line(), strings.Join(termsafe.Lines(p.FallbackFor), ", "))
		case "load":
			fmt.Fprintf(&b, "  %s: load, not attach: %s\n", n, termsafe.Line(p.Reason))
		case "skip":
			fmt.Fprintf(&b, "  %s: skip: %s\n", n, termsafe.Line(p.Reason))
		}
	}
	for _, w := range d.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", termsafe.Line(w))
	}
	_, err := fmt.Fprint(o.Stdout, b.String())
	return err
}
