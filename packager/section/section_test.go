package section

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// Every entry of the table has a distinct pattern, a reason exactly when
// it is Manual, and every kind has a String.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Table {
		if seen[d.Pattern] {
			t.Errorf("pattern %q twice", d.Pattern)
		}
		seen[d.Pattern] = true
		if (d.Kind == Manual) != (d.Reason != "") {
			t.Errorf("pattern %q: kind %v with reason %q", d.Pattern, d.Kind, d.Reason)
		}
	}
	for k := None; k <= Manual; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "Kind(") {
			t.Errorf("Kind %d has no name", k)
		}
	}
	if s := Kind(99).String(); s != "Kind(99)" {
		t.Errorf("Kind(99).String() = %q", s)
	}
}

func TestLookup(t *testing.T) {
	for _, c := range []struct {
		sec, pattern, extra string
	}{
		{"tracepoint/syscalls/sys_enter_openat", "tracepoint+", "syscalls/sys_enter_openat"},
		{"tp", "tp+", ""},
		{"xdp", "xdp", ""},
		{"xdp_prog", "xdp", ""}, // cilium/ebpf's prefix rule
		{"socket1", "socket", ""},
		{"cgroup/connect4", "cgroup/connect4", ""},
		{"xdp/devmap", "xdp/devmap", ""},
		{"uprobe//bin/bash:readline", "uprobe+", "/bin/bash:readline"},
	} {
		d, extra, ok := Lookup(c.sec)
		if !ok || d.Pattern != c.pattern || extra != c.extra {
			t.Errorf("Lookup(%q) = %+v, %q, %v; want pattern %q, extra %q", c.sec, d, extra, ok, c.pattern, c.extra)
		}
	}
	for _, sec := range []string{"tracepont/syscalls/x", "kprobes/x", "", "license", ".xdp"} {
		if d, _, ok := Lookup(sec); ok {
			t.Errorf("Lookup(%q) = %+v, want none", sec, d)
		}
	}
	if d, extra, ok := LookupDotted(".tp/sched/sched_switch"); !ok || d.Pattern != "tp+" || extra != "sched/sched_switch" {
		t.Errorf("LookupDotted(.tp/...) = %+v, %q, %v", d, extra, ok)
	}
	// Dots before a section whose name gives no program type.
	for _, sec := range []string{".struct_ops/x", "xdp", "...", ".nothing"} {
		if d, _, ok := LookupDotted(sec); ok {
			t.Errorf("LookupDotted(%q) = %+v, want none", sec, d)
		}
	}
}

func TestSuggest(t *testing.T) {
	for sec, want := range map[string]string{
		"tracepont/syscalls/sys_enter_openat":  "tracepoint/syscalls/sys_enter_openat",
		"?tracepont/syscalls/sys_enter_openat": "tracepoint/syscalls/sys_enter_openat",
		"Tracepoint/sched/sched_switch":        "tracepoint/sched/sched_switch",
		"kprboe/do_unlinkat":                   "kprobe/do_unlinkat",
		"fentyr/do_unlinkat":                   "fentry/do_unlinkat",
		"tp_bft/sched_switch":                  "tp_btf/sched_switch",
		"uprob//bin/bash:readline":             "uprobe//bin/bash:readline",
		"cgroup/conect4":                       "cgroup/connect4",
		"perf_evnt":                            "perf_event",
		"sockop":                               "sockops",
		"foo/bar":                              "",
		"my_section":                           "",
		"license":                              "",
	} {
		if got := Suggest(sec); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", sec, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	spec := func(progs map[string]*ebpf.ProgramSpec) *ebpf.CollectionSpec {
		return &ebpf.CollectionSpec{Programs: progs}
	}
	ok := spec(map[string]*ebpf.ProgramSpec{
		"a": {SectionName: "tracepoint/syscalls/sys_enter_openat", Type: ebpf.TracePoint},
		"b": {SectionName: "?tracepont/syscalls/sys_enter_openat"}, // not loaded by default
		"c": {SectionName: ".xdp"},                                 // typed by the name behind the dot
		"d": {SectionName: "my_xdp", Type: ebpf.XDP},               // typed by its loader
		"e": {SectionName: "struct_ops/x", Type: ebpf.StructOps},   // known, attached by hand
	})
	if err := Check(ok); err != nil {
		t.Errorf("Check: %v", err)
	}
	bad := spec(map[string]*ebpf.ProgramSpec{
		"a":           {SectionName: "tracepoint/syscalls/sys_enter_openat", Type: ebpf.TracePoint},
		"handle_open": {SectionName: "tracepont/syscalls/sys_enter_openat"},
		"z":           {SectionName: "nothing_like_it"},
	})
	err := Check(bad)
	var ue *UnknownError
	if !errors.Is(err, ErrUnknown) || !errors.As(err, &ue) || ue.Program != "handle_open" {
		t.Fatalf("Check = %#v, want the UnknownError of handle_open", err)
	}
	want := `section "tracepont/syscalls/sys_enter_openat" of program handle_open is not a kind ecli can attach; did you mean "tracepoint/syscalls/sys_enter_openat"?`
	if err.Error() != want {
		t.Errorf("Check:\n got %s\nwant %s", err, want)
	}
	delete(bad.Programs, "handle_open")
	if err := Check(bad); err == nil || err.Error() != `section "nothing_like_it" of program z is not a kind ecli can attach` {
		t.Errorf("Check = %v", err)
	}
}
