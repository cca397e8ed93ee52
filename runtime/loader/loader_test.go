package loader

import "testing"

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
