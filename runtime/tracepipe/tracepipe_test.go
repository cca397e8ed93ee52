package tracepipe

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Line
		ok   bool
	}{
		{"           <...>-1234    [001] d..31  1234.567890: bpf_trace_printk: BPF triggered from PID 1234.",
			Line{Comm: "<...>", PID: 1234, CPU: 1, Timestamp: 1234.56789, Msg: "BPF triggered from PID 1234."}, true},
		{"  kworker/u8:2-77   [003] ....  55.000001: bpf_trace_printk: a-b [c] 1.5: d",
			Line{Comm: "kworker/u8:2", PID: 77, CPU: 3, Timestamp: 55.000001, Msg: "a-b [c] 1.5: d"}, true},
		// A comm with a dash and a space; no flags column; a tgid column.
		{"my-app x-9 (    9) [000] 3.25: bpf_trace_printk: hi",
			Line{Comm: "my-app x", PID: 9, CPU: 0, Timestamp: 3.25, Msg: "hi"}, true},
		{"bash-5 [002] 1.000000: hello", Line{Comm: "bash", PID: 5, CPU: 2, Timestamp: 1, Msg: "hello"}, true},
		{"CPU:3 [LOST 12 EVENTS]", Line{}, false},
		{"", Line{}, false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("           <...>-1234    [001] d..31  1234.567890: bpf_trace_printk: x")
	f.Add("a-1 [0] 1.0: y")
	f.Fuzz(func(t *testing.T, s string) {
		l, ok := Parse(s)
		if !ok && l != (Line{}) {
			t.Fatalf("not ok but %+v", l)
		}
	})
}
