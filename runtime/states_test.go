package runtime

import (
	"strings"
	"sync"
	"testing"
)

// Options.Programs says what became of each program: attached, a twin
// that stands in reserve, failed (a kprobe this kernel refuses), skipped
// by a rule (a bare uprobe without a target).
func TestProgramStates(t *testing.T) {
	src := buildSource(t, "states", prelude+`
SEC("tp_btf/sched_process_exec")
int BPF_PROG(st_btf) { return 0; }

SEC("raw_tp/sched_process_exec")
int st_raw(void *ctx) { return 0; }

SEC("tp/syscalls/sys_enter_getpid")
int st_tp(void *ctx) { return 0; }

SEC("kprobe/do_unlinkat")
int st_kprobe(void *ctx) { return 0; }

SEC("uprobe")
int st_uprobe(void *ctx) { return 0; }
`)
	var mu sync.Mutex
	var got []ProgramState
	r := start(t, src, nil, Options{Programs: func(ps []ProgramState) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ps...)
	}})
	r.stop(t)
	mu.Lock()
	defer mu.Unlock()
	byName := map[string]ProgramState{}
	var order []string
	for _, p := range got {
		byName[p.Name] = p
		order = append(order, p.Name)
	}
	if strings.Join(order, " ") != "st_btf st_kprobe st_raw st_tp st_uprobe" {
		t.Errorf("programs reported %v, want each once, by name", order)
	}
	for _, c := range []struct {
		name, state, section, reason, err string
	}{
		{"st_btf", StateAttached, "tp_btf/sched_process_exec", "", ""},
		{"st_raw", StateTwin, "raw_tp/sched_process_exec", "twin tp_btf/sched_process_exec runs instead", ""},
		{"st_tp", StateAttached, "tp/syscalls/sys_enter_getpid", "", ""},
		{"st_kprobe", StateFailed, "kprobe/do_unlinkat", "", "not supported by this kernel"},
		{"st_uprobe", StateSkipped, "uprobe", "--uprobe", ""},
	} {
		p := byName[c.name]
		if p.State != c.state || p.Section != c.section || !strings.Contains(p.Reason, c.reason) ||
			(c.err == "") != (p.Err == nil) || (p.Err != nil && !strings.Contains(p.Err.Error(), c.err)) {
			t.Errorf("%s: %+v, want %s %s reason ~%q error ~%q", c.name, p, c.state, c.section, c.reason, c.err)
		}
	}
}
