package loader

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/runtime/attach"
)

func TestRefusedHelper(t *testing.T) {
	log := []string{
		"62: (85) call bpf_probe_write_user#36",
		"program of this type cannot use helper bpf_probe_write_user#36",
		"processed 44 insns (limit 1000000) max_states_per_insn 0 total_states 3 peak_states 3 mark_read 0",
	}
	if got := refusedHelper(log); got != "bpf_probe_write_user" {
		t.Errorf("refusedHelper = %q", got)
	}
	if got := refusedHelper([]string{"R1 invalid mem access 'scalar'"}); got != "" {
		t.Errorf("refusedHelper of a rejection = %q", got)
	}
}

// Whatever Explain makes of a load or attach error, the error stays in
// its chain: a verifier's *ebpf.VerifierError is found with errors.As
// through Explain, ProgramError and NothingRuns.
func TestExplainKeepsTheChain(t *testing.T) {
	log := make([]string, 20)
	for i := range log {
		log[i] = fmt.Sprintf("%d: (b7) r0 = 0", i)
	}
	log[18] = "R1 invalid mem access 'scalar'"
	log[19] = "processed 20 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0"
	rejected := fmt.Errorf("program bad: %w", fmt.Errorf("load program: %w", &ebpf.VerifierError{Cause: unix.EACCES, Log: log}))
	refused := fmt.Errorf("program w: %w", fmt.Errorf("load program: %w", &ebpf.VerifierError{Cause: unix.EINVAL, Log: []string{
		"program of this type cannot use helper bpf_probe_write_user#36",
	}}))
	eperm := fmt.Errorf("load program: %w (MEMLOCK may be too low, consider rlimit.RemoveMemlock)", unix.EPERM)
	attachErr := &attach.Error{Program: "p", Target: "kprobe do_nanosleep", Err: &attach.NotSupportedError{Reason: "this kernel has no kprobes", Err: os.ErrNotExist}}

	for _, c := range []struct {
		name string
		err  error
		want string
		is   []error
	}{
		{"rejected", rejected, "rejected by the verifier (last 12 lines; -v shows all 20):\n    8: (b7) r0 = 0", []error{unix.EACCES}},
		{"refused helper", refused, "not supported by this kernel: the kernel refuses helper bpf_probe_write_user in programs of this type", []error{attach.ErrNotSupported, unix.EINVAL}},
		{"not permitted", withoutProgramName(fmt.Errorf("program f: %w", eperm), "f"), "not supported by this kernel: load program: operation not permitted", []error{attach.ErrNotSupported, unix.EPERM}},
		{"attach refused", attachErr, "not supported by this kernel: this kernel has no kprobes", []error{attach.ErrNotSupported, os.ErrNotExist}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Explain(c.err, false)
			if !strings.HasPrefix(got.Error(), c.want) {
				t.Errorf("Explain = %q, want it to begin %q", got, c.want)
			}
			wrapped := NothingRuns("pkg", []error{&ProgramError{Program: "p", Section: "s", Err: got}})
			for _, target := range append(c.is, ErrNothingRuns) {
				if !errors.Is(wrapped, target) {
					t.Errorf("%v is lost in %v", target, wrapped)
				}
			}
			var ve *ebpf.VerifierError
			if wantVE := errors.As(c.err, &ve); errors.As(wrapped, &ve) != wantVE {
				t.Errorf("*ebpf.VerifierError reachable: %v, want %v", !wantVE, wantVE)
			}
			if strings.Contains(got.Error(), "MEMLOCK") || strings.Contains(got.Error(), "program f:") {
				t.Errorf("Explain = %q", got)
			}
		})
	}
	var lve *VerifierError
	if !errors.As(Explain(rejected, false), &lve) || lve.Reason() != "R1 invalid mem access 'scalar'" {
		t.Errorf("VerifierError.Reason = %q", lve.Reason())
	}
	if v := Explain(rejected, true).Error(); strings.Contains(v, "-v shows all") || strings.Count(v, "\n    ") != 20 {
		t.Errorf("verbose: %q", v)
	}
	// Only cilium/ebpf's exact "program NAME: " wrapper is unwrapped.
	other := fmt.Errorf("program g: %w", eperm)
	if withoutProgramName(other, "f") != other {
		t.Error("withoutProgramName unwrapped another program's error")
	}
}
