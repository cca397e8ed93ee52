package attach

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
)

// objSpec builds a CollectionSpec from program name → section, with the
// types cilium/ebpf gives those sections.
func objSpec(progs map[string]string) *ebpf.CollectionSpec {
	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{}, Maps: map[string]*ebpf.MapSpec{}}
	for name, sec := range progs {
		ps := &ebpf.ProgramSpec{Name: name, SectionName: sec, Type: ebpf.Kprobe}
		s := strings.TrimPrefix(sec, "?")
		switch {
		case strings.HasPrefix(s, "tp_btf/"):
			ps.Type, ps.AttachType, ps.AttachTo = ebpf.Tracing, ebpf.AttachTraceRawTp, strings.TrimPrefix(s, "tp_btf/")
		case strings.HasPrefix(s, "fentry/"):
			ps.Type, ps.AttachType, ps.AttachTo = ebpf.Tracing, ebpf.AttachTraceFEntry, strings.TrimPrefix(s, "fentry/")
		case strings.HasPrefix(s, "fexit/"):
			ps.Type, ps.AttachType, ps.AttachTo = ebpf.Tracing, ebpf.AttachTraceFExit, strings.TrimPrefix(s, "fexit/")
		case strings.HasPrefix(s, "raw_tp.w/"):
			ps.Type = ebpf.RawTracepointWritable
		case strings.HasPrefix(s, "raw_tp/"), strings.HasPrefix(s, "raw_tracepoint/"):
			ps.Type = ebpf.RawTracepoint
		case strings.HasPrefix(s, "tp/"), strings.HasPrefix(s, "tracepoint/"):
			ps.Type = ebpf.TracePoint
		case strings.HasPrefix(s, "xdp"):
			ps.Type, ps.AttachType = ebpf.XDP, ebpf.AttachXDP
		case strings.HasPrefix(s, "."), s == "my_section":
			ps.Type = ebpf.UnspecifiedProgram
		}
		spec.Programs[name] = ps
	}
	return spec
}

// uprobeEnv is a working folder with binaries for the uprobe rules.
func uprobeEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"app", "bin/app", "libfoo.so.1"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("not really ELF"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	t.Setenv("PATH", "/usr/bin:/bin")
	return dir
}

func TestPlanAllUprobes(t *testing.T) {
	dir := uprobeEnv(t)
	sh, err := ResolveBinary("sh")
	if err != nil {
		t.Fatal(err)
	}
	type target struct{ bin, sym string }
	for _, c := range []struct {
		name    string
		progs   map[string]string
		flags   []string
		want    map[string]target // program → binary:symbol
		skipped map[string]string // program → part of its warning
		errHas  []string          // PlanAll fails with all of these
		warnHas string
	}{
		{name: "bare pair takes BIN:SYM",
			progs: map[string]string{"enter": "uprobe", "exit": "uretprobe", "tp": "tp/sched/sched_switch"},
			flags: []string{"/bin/sh:main"},
			want:  map[string]target{"enter": {"/bin/sh", "main"}, "exit": {"/bin/sh", "main"}}},
		{name: "bare without flag is skipped, the rest runs",
			progs:   map[string]string{"enter": "uprobe", "tp": "tp/sched/sched_switch"},
			skipped: map[string]string{"enter": "pass --uprobe enter=BINARY:SYMBOL"}},
		{name: "memleak-style: many bare programs, one BIN:SYM",
			progs:  map[string]string{"malloc_enter": "uprobe", "malloc_exit": "uretprobe", "free_enter": "uprobe", "calloc_enter": "uprobe"},
			flags:  []string{"libc.so.6:malloc"},
			errHas: []string{"--uprobe libc.so.6:malloc names no program", "4 bare uprobe programs (calloc_enter, free_enter, malloc_enter, malloc_exit)", "--uprobe PROG=BINARY:SYMBOL"}},
		{name: "memleak-style with PROG= for each",
			progs: map[string]string{"malloc_enter": "uprobe", "malloc_exit": "uretprobe", "free_enter": "uprobe"},
			flags: []string{"malloc_enter=/bin/sh:main", "malloc_exit=/bin/sh:main", "free_enter=./app:free"},
			want:  map[string]target{"malloc_enter": {"/bin/sh", "main"}, "malloc_exit": {"/bin/sh", "main"}, "free_enter": {dir + "/app", "free"}}},
		{name: "PROG= for some, the rest skipped",
			progs:   map[string]string{"a": "uprobe", "b": "uprobe", "c": "uprobe"},
			flags:   []string{"a=/bin/sh:main"},
			want:    map[string]target{"a": {"/bin/sh", "main"}},
			skipped: map[string]string{"b": "names no target: pass --uprobe b=BINARY:SYMBOL[+OFFSET]", "c": "names no target: pass --uprobe c=BINARY:SYMBOL[+OFFSET]"}},
		{name: "a lone bare program hears of BINARY:SYMBOL",
			progs:   map[string]string{"a": "uprobe", "b": "uretprobe"},
			skipped: map[string]string{"a": "pass --uprobe a=BINARY:SYMBOL[+OFFSET], or --uprobe BINARY:SYMBOL", "b": ", or --uprobe BINARY:SYMBOL"}},
		{name: "PROG= plus one BIN:SYM for the one bare left",
			progs: map[string]string{"a": "uprobe", "b": "uprobe"},
			flags: []string{"a=/bin/sh:main", "app:g"},
			want:  map[string]target{"a": {"/bin/sh", "main"}, "b": {dir + "/app", "g"}}},
		{name: "two BIN:SYM without PROG= for bare programs",
			progs:  map[string]string{"a": "uprobe"},
			flags:  []string{"/bin/sh:main", "app:g"},
			errHas: []string{"--uprobe /bin/sh:main, --uprobe app:g name no program", "(a)"}},
		{name: "function alone takes the binary",
			progs: map[string]string{"readline": "uretprobe/readline", "hs": "uprobe/do_handshake+4"},
			flags: []string{"/bin/sh"},
			want:  map[string]target{"readline": {"/bin/sh", "readline"}, "hs": {"/bin/sh", "do_handshake"}}},
		{name: "function alone takes the binary of BIN:SYM with that symbol",
			progs: map[string]string{"readline": "uretprobe/readline", "bare": "uprobe"},
			flags: []string{"/bin/sh:readline", "app:f"},
			want:  map[string]target{"readline": {"/bin/sh", "readline"}, "bare": {dir + "/app", "f"}}},
		{name: "function alone without binary is skipped",
			progs:   map[string]string{"readline": "uretprobe/readline", "tp": "tp/sched/sched_switch"},
			skipped: map[string]string{"readline": "names the function readline but no binary: pass --uprobe BINARY (e.g. --uprobe /bin/bash), or --uprobe readline=BINARY:readline"}},
		{name: "PROG=BIN gives a binary to a function alone",
			progs: map[string]string{"readline": "uretprobe/readline"},
			flags: []string{"readline=bin/app"},
			want:  map[string]target{"readline": {dir + "/bin/app", "readline"}}},
		{name: "PROG=BIN for a bare program",
			progs:  map[string]string{"a": "uprobe"},
			flags:  []string{"a=/bin/sh"},
			errHas: []string{"--uprobe a=/bin/sh gives a binary, but the section names no function: use --uprobe a=/bin/sh:SYMBOL"}},
		{name: "PROG= overrides the section",
			progs: map[string]string{"a": "uprobe//bin/sh:main"},
			flags: []string{"a=./app:other+8"},
			want:  map[string]target{"a": {dir + "/app", "other"}}},
		{name: "PROG= naming no program",
			progs:  map[string]string{"a": "uprobe", "tp": "tp/sched/sched_switch"},
			flags:  []string{"nope=/bin/sh:main"},
			errHas: []string{"--uprobe nope=/bin/sh:main: the package has no program nope (its uprobe programs: a)"}},
		{name: "PROG= naming no uprobe",
			progs:  map[string]string{"a": "uprobe", "tp": "tp/sched/sched_switch"},
			flags:  []string{"tp=/bin/sh:main"},
			errHas: []string{"program tp is not a uprobe"}},
		{name: "relative paths in sections and flags",
			progs: map[string]string{"a": "uprobe/./app:f", "b": "uprobe/bin/app:g", "c": "uprobe/libfoo.so.1:h", "d": "uretprobe"},
			flags: []string{"d=bin/app:k"},
			want:  map[string]target{"a": {dir + "/app", "f"}, "b": {dir + "/bin/app", "g"}, "c": {dir + "/libfoo.so.1", "h"}, "d": {dir + "/bin/app", "k"}}},
		{name: "a command found in the working folder",
			progs: map[string]string{"a": "uprobe/app:f", "b": "uprobe/sh:main"},
			want:  map[string]target{"a": {dir + "/app", "f"}, "b": {sh, "main"}}},
		{name: "a section's missing binary skips the program",
			progs:   map[string]string{"a": "uprobe/./nope:f", "b": "uprobe/nope2:f", "c": "uprobe/libnope.so:f", "tp": "tp/sched/sched_switch"},
			skipped: map[string]string{"a": "binary ./nope: no file " + dir + "/nope (relative paths start at the working folder " + dir + ")", "b": "binary nope2 not found on $PATH or in the working folder " + dir, "c": "library libnope.so not found in $LD_LIBRARY_PATH"}},
		{name: "a flag's missing binary is an error",
			progs:  map[string]string{"a": "uprobe"},
			flags:  []string{"a=./nope:f"},
			errHas: []string{"program a (SEC(\"uprobe\")): --uprobe a=./nope:f: binary ./nope: no file " + dir + "/nope"}},
		{name: "malformed flag",
			progs:  map[string]string{"a": "uprobe"},
			flags:  []string{"a=/bin/sh:main+zz"},
			errHas: []string{`--uprobe "a=/bin/sh:main+zz": bad offset "zz"`}},
		{name: "unused flag warns",
			progs:   map[string]string{"a": "uprobe//bin/sh:main"},
			flags:   []string{"/bin/sh:other"},
			want:    map[string]target{"a": {"/bin/sh", "main"}},
			warnHas: "--uprobe /bin/sh:other applies to no program"},
	} {
		t.Run(c.name, func(t *testing.T) {
			set, err := PlanAll(objSpec(c.progs), &Options{Uprobe: c.flags})
			if len(c.errHas) > 0 {
				if err == nil {
					t.Fatalf("PlanAll succeeded: %+v", set)
				}
				for _, w := range c.errHas {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for prog, want := range c.want {
				p := set.Plans[prog]
				if p == nil {
					t.Errorf("%s: no plan (skipped: %v)", prog, set.Skipped)
					continue
				}
				if p.Binary != want.bin || p.Symbol != want.sym {
					t.Errorf("%s: planned %s:%s, want %s:%s", prog, p.Binary, p.Symbol, want.bin, want.sym)
				}
			}
			skipped := map[string]string{}
			for _, e := range set.Skipped {
				var pe *PlanError
				if !errors.As(e, &pe) || !pe.Skip {
					t.Errorf("skipped %v is not a *PlanError with Skip", e)
					continue
				}
				skipped[pe.Program] = e.Error()
				if set.Plans[pe.Program] != nil {
					t.Errorf("%s is both planned and skipped", pe.Program)
				}
			}
			if len(skipped) != len(c.skipped) {
				t.Errorf("skipped %v, want %v", skipped, c.skipped)
			}
			for prog, want := range c.skipped {
				if !strings.Contains(skipped[prog], want) {
					t.Errorf("%s: skipped with %q, want it to contain %q", prog, skipped[prog], want)
				}
				// The unprefixed form is offered only where it would apply.
				if strings.Contains(skipped[prog], "or --uprobe BINARY:SYMBOL") && len(c.progs) > 2 {
					t.Errorf("%s: %q offers an unprefixed --uprobe to one of several bare programs", prog, skipped[prog])
				}
			}
			if !slicesContain(set.Deferred(), keys(c.skipped)) {
				t.Errorf("Deferred() = %v lacks the skipped programs", set.Deferred())
			}
			if c.warnHas != "" && !strings.Contains(strings.Join(set.Warnings, "\n"), c.warnHas) {
				t.Errorf("warnings %q lack %q", set.Warnings, c.warnHas)
			}
			if c.warnHas == "" && len(set.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", set.Warnings)
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func slicesContain(have, want []string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}

// PlanFor sees one program: a BIN:SYM without PROG= is its target.
func TestPlanForSingleBare(t *testing.T) {
	p, err := PlanFor(&ebpf.ProgramSpec{Name: "x", SectionName: "uprobe", Type: ebpf.Kprobe}, &Options{Uprobe: []string{"/bin/sh:main"}})
	if err != nil || p.Binary != "/bin/sh" || p.Symbol != "main" {
		t.Errorf("got %+v, %v", p, err)
	}
	p, err = PlanFor(&ebpf.ProgramSpec{Name: "x", SectionName: "uprobe", Type: ebpf.Kprobe}, &Options{Uprobe: []string{"y=/bin/sh:main", "x=/bin/sh:other"}})
	if err != nil || p.Symbol != "other" {
		t.Errorf("PROG=: got %+v, %v", p, err)
	}
}

func TestPlanAllSectionProblems(t *testing.T) {
	kallsyms = filepath.Join(t.TempDir(), "kallsyms")
	os.WriteFile(kallsyms, []byte("ffffffff81304530 t dummy_handler\nffffffff81304540 T do_unlinkat\n"), 0o644)
	kernelSymsOnce = sync.Once{}
	t.Cleanup(func() { kallsyms, kernelSymsOnce = "/proc/kallsyms", sync.Once{} })

	spec := objSpec(map[string]string{
		"unused":   "tp/unused",
		"tail":     "raw_tp",
		"fe_dummy": "fentry/dummy_fentry",
		"fx_dummy": "fexit/dummy_fexit",
		"kp_dummy": "kprobe/dummy_kprobe",
		"kp_real":  "kprobe/dummy_handler",
		"mystery":  "my_section",
		"legacy":   ".xdp",
		"tp":       "tp/sched/sched_switch",
	})
	set, err := PlanAll(spec, &Options{IfName: "lo"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"unused", "tail"} {
		if p := set.Plans[n]; p == nil || p.Kind != Manual {
			t.Errorf("%s: %+v, want Manual (loaded, noted)", n, p)
		}
	}
	if !strings.Contains(set.Plans["unused"].Reason, `malformed tracepoint "unused"`) {
		t.Errorf("unused: reason %q", set.Plans["unused"].Reason)
	}
	if p := set.Plans["kp_real"]; p == nil || p.Kind != Kprobe || p.Symbol != "dummy_handler" {
		t.Errorf("kprobe on the real kernel function dummy_handler: %+v", p)
	}
	if p := set.Plans["legacy"]; p == nil || p.Kind != XDP || p.IfName != "lo" || spec.Programs["legacy"].Type != ebpf.XDP {
		t.Errorf(".xdp: plan %+v, type %v; want xdp on lo, type XDP", p, spec.Programs["legacy"].Type)
	}
	if !reflect.DeepEqual(set.Retyped, []string{"legacy"}) {
		t.Errorf("Retyped = %v", set.Retyped)
	}
	skipped := map[string]string{}
	for _, e := range set.Skipped {
		skipped[e.(*PlanError).Program] = e.Error()
	}
	for n, want := range map[string]string{
		"fe_dummy": "dummy_fentry is a placeholder target: the tool's own user space sets the real one",
		"fx_dummy": "dummy_fexit is a placeholder target",
		"kp_dummy": "dummy_kprobe is a placeholder target",
		"mystery":  `unknown section name "my_section"`,
	} {
		if !strings.Contains(skipped[n], want) {
			t.Errorf("%s: skipped with %q, want %q", n, skipped[n], want)
		}
	}
	if len(skipped) != 4 {
		t.Errorf("skipped %v", skipped)
	}
	// A missing --ifname is still the user's to fix.
	if _, err := PlanAll(objSpec(map[string]string{"x": "xdp", "tp": "tp/a/b"}), &Options{}); err == nil || !strings.Contains(err.Error(), "pass --ifname NAME") {
		t.Errorf("xdp without --ifname: %v", err)
	}
}

// A program whose section name is unknown but whose type cilium/ebpf knows
// is attached the way its type is.
func TestPlanForByType(t *testing.T) {
	for _, c := range []struct {
		spec ebpf.ProgramSpec
		want Kind
		at   ebpf.AttachType
	}{
		{ebpf.ProgramSpec{SectionName: "prog", Type: ebpf.XDP}, XDP, ebpf.AttachXDP},
		{ebpf.ProgramSpec{SectionName: "prog", Type: ebpf.SchedCLS}, TC, ebpf.AttachTCXIngress},
		{ebpf.ProgramSpec{SectionName: "prog", Type: ebpf.SchedCLS, AttachType: ebpf.AttachTCXEgress}, TC, ebpf.AttachTCXEgress},
		{ebpf.ProgramSpec{SectionName: "prog", Type: ebpf.CGroupSKB, AttachType: ebpf.AttachCGroupInetEgress}, Cgroup, ebpf.AttachCGroupInetEgress},
		{ebpf.ProgramSpec{SectionName: "prog", Type: ebpf.SocketFilter}, SocketFilter, 0},
		{ebpf.ProgramSpec{SectionName: "prog", Type: ebpf.Kprobe}, Manual, 0},
	} {
		c.spec.Name = "p"
		p, err := PlanFor(&c.spec, &Options{IfName: "lo", Cgroup: "/sys/fs/cgroup"})
		if err != nil || p.Kind != c.want || p.Attach != c.at {
			t.Errorf("%v: got %+v, %v; want %v %v", c.spec.Type, p, err, c.want, c.at)
		}
		if c.want == Manual && !strings.Contains(p.Reason, "loads as type Kprobe") {
			t.Errorf("reason %q", p.Reason)
		}
	}
}

func TestTwins(t *testing.T) {
	spec := objSpec(map[string]string{
		"btf":       "tp_btf/sched_wakeup",
		"raw":       "raw_tp/sched_wakeup",
		"tp":        "tp/sched/sched_wakeup",
		"btf2":      "tp_btf/sched_switch", // alone: not a twin
		"btf3":      "tp_btf/sched_switch", // same kind, same hook: both attached
		"rawsw":     "raw_tp.w/sched_switch",
		"fentry":    "fentry/do_unlinkat",
		"kprobe":    "kprobe/do_unlinkat",
		"kprobeoff": "kprobe/do_unlinkat+4",
		"fexit":     "fexit/do_unlinkat",
		"kret":      "kretprobe/do_unlinkat",
		"fe_sys":    "fentry/" + SyscallPrefix("amd64") + "sys_openat",
		"ksys":      "ksyscall/openat",
		"kret_only": "kretprobe/vfs_read",
		"rawsys":    "raw_tp/sys_enter",
		"tpsys":     "tp/raw_syscalls/sys_enter",
	})
	set, err := PlanAll(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][][]string{}
	for _, g := range set.Twins {
		got[g.Hook] = g.Classes
	}
	want := map[string][][]string{
		"tracepoint sched_wakeup": {{"btf"}, {"raw"}, {"tp"}},
		"entry of do_unlinkat":    {{"fentry"}, {"kprobe"}},
		"return of do_unlinkat":   {{"fexit"}, {"kret"}},
		"tracepoint sys_enter":    {{"rawsys"}, {"tpsys"}},
	}
	if SyscallPrefix(runtimeGOARCH()) == SyscallPrefix("amd64") {
		want["entry of __x64_sys_openat"] = [][]string{{"fe_sys"}, {"ksys"}}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("twins\n got %v\nwant %v", got, want)
	}
	deferred := set.Deferred()
	for _, n := range []string{"raw", "tp", "kprobe", "kret", "tpsys"} {
		if !slicesContain(deferred, []string{n}) {
			t.Errorf("%s is not deferred: %v", n, deferred)
		}
	}
	for _, n := range []string{"btf", "btf2", "btf3", "fentry", "fexit", "kprobeoff", "rawsw", "kret_only"} {
		if slicesContain(deferred, []string{n}) {
			t.Errorf("%s is deferred: %v", n, deferred)
		}
	}
}

func runtimeGOARCH() string { return runtime.GOARCH }
