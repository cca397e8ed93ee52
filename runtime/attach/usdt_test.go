package attach

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// probesBinary compiles the usdt package's fixture (probes of our own,
// <sys/sdt.h>) into dir.
func probesBinary(t *testing.T, dir string) string {
	t.Helper()
	gcc := testenv.Tool(t, "gcc")
	check := exec.Command(gcc, "-E", "-x", "c", "-o", os.DevNull, "-")
	check.Stdin = strings.NewReader("#include <sys/sdt.h>\n")
	if err := check.Run(); err != nil {
		testenv.Missing(t, "<sys/sdt.h> is missing (make test-deps installs systemtap-sdt-dev)")
	}
	bin := filepath.Join(dir, "probes")
	if out, err := exec.Command(gcc, "-O2", "-o", bin, "usdt/testdata/probes.c", "usdt/testdata/sem.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

func usdtSpec(name, section string) *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{Name: name, SectionName: section, Type: ebpf.Kprobe}
}

func TestPlanUSDT(t *testing.T) {
	dir := t.TempDir()
	bin := probesBinary(t, dir)

	p, err := PlanFor(usdtSpec("on_twice", "usdt/"+bin+":ecc:twice"), &Options{PID: 42})
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != USDT || p.Binary != bin || p.Group != "ecc" || p.Name != "twice" || p.PID != 42 || len(p.Sites) != 2 {
		t.Errorf("plan %+v", p)
	}
	if want := "usdt " + bin + ":ecc:twice (2 sites) pid 42"; p.String() != want {
		t.Errorf("String() = %q, want %q", p.String(), want)
	}

	// A path relative to the working folder.
	t.Chdir(dir)
	p, err = PlanFor(usdtSpec("on_tick", "usdt/./probes:ecc:tick"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Binary != bin || len(p.Sites) != 1 || p.String() != "usdt "+bin+":ecc:tick (1 site)" {
		t.Errorf("relative: %+v %q", p, p)
	}

	// Bare usdt: the --usdt naming it, else the one naming none.
	o := &Options{USDT: []string{"other=./probes:ecc:none", "./probes:ecc:sem"}}
	p, err = PlanFor(usdtSpec("on_sem", "usdt"), o)
	if err != nil || p.Name != "sem" || p.Sites[0].SemOffset == 0 {
		t.Errorf("unnamed --usdt: %+v, %v", p, err)
	}
	p, err = PlanFor(usdtSpec("other", "usdt"), o)
	if err != nil || p.Name != "none" {
		t.Errorf("named --usdt: %+v, %v", p, err)
	}
	// Without a target it is planned, and Attach says what to pass.
	p, err = PlanFor(usdtSpec("lonely", "usdt.s"), &Options{})
	if err != nil || p.Binary != "" || p.String() != "usdt, no probe given (--usdt)" {
		t.Errorf("no target: %+v %q, %v", p, p, err)
	}
	if _, err := Attach(&ebpf.Program{}, p); err == nil || !strings.Contains(err.Error(), `SEC("usdt.s") names no probe: pass --usdt lonely=BINARY:PROVIDER:NAME`) {
		t.Errorf("attach without a target: %v", err)
	}

	for _, tc := range []struct{ sec, want string }{
		{"usdt/./probes:ecc:nope", "no such USDT probe ecc:nope (it has ecc:consts, ecc:global, ecc:none, ecc:sem, ecc:tick, ecc:twice)"},
		{"usdt/./probes:ecc:nope", "readelf -n " + bin},
		{"usdt//etc/passwd:a:b", "usdt a:b in /etc/passwd: not an ELF"},
		{"usdt/./nothere:a:b", "binary ./nothere"},
	} {
		_, err := PlanFor(usdtSpec("x", tc.sec), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "program x") {
			t.Errorf("%s: %v, want %q", tc.sec, err, tc.want)
		}
	}
}

func TestCheckOptionsUSDT(t *testing.T) {
	coll := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{
		"a":     usdtSpec("a", "usdt"),
		"b":     usdtSpec("b", "usdt.s"),
		"named": usdtSpec("named", "usdt/bin:p:n"),
	}}
	one := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"a": usdtSpec("a", "usdt")}}
	none := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"named": usdtSpec("named", "usdt/bin:p:n")}}
	for _, tc := range []struct {
		spec *ebpf.CollectionSpec
		usdt []string
		want string // "" when valid
	}{
		{coll, nil, ""},
		{coll, []string{"a=bin:p:n", "b=/x/y:p:m"}, ""},
		{one, []string{"bin:p:n"}, ""},
		{one, []string{"a=bin:p:n"}, ""},
		{coll, []string{"bin:p:n"}, `names no program, but 2 programs take a target (a, b): write --usdt PROG=bin:p:n`},
		{none, []string{"bin:p:n"}, `no SEC("usdt") program without a target`},
		{coll, []string{"zz=bin:p:n"}, "no program zz (bare SEC(\"usdt\") programs: a, b)"},
		{coll, []string{"named=bin:p:n"}, `program named is SEC("usdt/bin:p:n")`},
		{coll, []string{"a=bin:p:n", "a=bin:p:m"}, "program a already has a target"},
		{one, []string{"bin:p:n", "a=bin:p:m"}, "program a already has a target"},
		{one, []string{"bin:p"}, "want BINARY:PROVIDER:NAME"},
		{one, []string{"a=bin::n"}, "none of them empty"},
	} {
		err := CheckOptions(tc.spec, &Options{USDT: tc.usdt})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.usdt, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: got %v, want %q", tc.usdt, err, tc.want)
		}
	}
}

func TestParseUSDTTarget(t *testing.T) {
	for in, want := range map[string][3]string{
		"bin:p:n":              {"bin", "p", "n"},
		"/usr/lib/libx.so:p:n": {"/usr/lib/libx.so", "p", "n"},
		"c:/odd:path:p:n":      {"c:/odd:path", "p", "n"},
	} {
		b, p, n, err := parseUSDTTarget(in)
		if err != nil || [3]string{b, p, n} != want {
			t.Errorf("%q: %q %q %q %v", in, b, p, n, err)
		}
	}
	for _, in := range []string{"", "a", "a:b", ":p:n", "b::n", "b:p:"} {
		if _, _, _, err := parseUSDTTarget(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	for in, want := range map[string][2]string{
		"prog=bin:p:n":     {"prog", "bin:p:n"},
		"bin:p:n":          {"", "bin:p:n"},
		"/a=b/bin:p:n":     {"", "/a=b/bin:p:n"},
		"_x1=/a=b/bin:p:n": {"_x1", "/a=b/bin:p:n"},
	} {
		if p, tg := splitUSDTFlag(in); [2]string{p, tg} != want {
			t.Errorf("%q: %q %q", in, p, tg)
		}
	}
}

// countingProgram loads a program that counts its runs in slot 0 of m.
func countingProgram(t *testing.T, section string, m *ebpf.Map, prepare bool) *ebpf.Program {
	t.Helper()
	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"count": {
		Name: "count", SectionName: section, Type: ebpf.Kprobe, License: "GPL",
		Instructions: asm.Instructions{
			asm.StoreImm(asm.RFP, -4, 0, asm.Word),
			asm.LoadMapPtr(asm.R1, m.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -4),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "exit"),
			asm.Mov.Imm(asm.R1, 1),
			asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
			asm.Return(),
		},
	}}}
	if prepare {
		PrepareUSDT(spec)
	}
	prog, err := ebpf.NewProgram(spec.Programs["count"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

// USDT attaches through one uprobe_multi link where the kernel has them
// (programs prepared by PrepareUSDT), else a uprobe per site; either way
// every site fires, the semaphore is raised, and closing detaches.
func TestKernelUSDT(t *testing.T) {
	testenv.Kernel(t)
	bin := probesBinary(t, t.TempDir())
	for _, tc := range []struct {
		name      string
		prepare   bool
		noMulti   bool
		wantLinks int // for the 2 sites of ecc:twice
	}{
		{"prepared", true, false, 1},
		{"fallback", false, false, 2},
		{"no-multi", true, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.noMulti {
				t.Setenv("ECLI_USDT_NO_MULTI", "1")
			} else if !haveUprobeMulti() {
				t.Skip("no uprobe_multi links on this kernel")
			}
			for _, probe := range []string{"twice", "sem"} {
				m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				section := "usdt/" + bin + ":ecc:" + probe
				prog := countingProgram(t, section, m, tc.prepare)
				plan, err := PlanFor(usdtSpec("count", section), nil)
				if err != nil {
					t.Fatal(err)
				}
				l, err := Attach(prog, plan)
				if err != nil {
					t.Fatal(err)
				}
				want := tc.wantLinks
				if probe == "sem" {
					want = 1
				}
				if n := len(l.Links()); n != want {
					t.Errorf("%s: %d links, want %d", probe, n, want)
				}
				run := func() uint64 {
					if out, err := exec.Command(bin).CombinedOutput(); err != nil {
						t.Fatalf("%s: %v\n%s", bin, err, out)
					}
					var n uint64
					if err := m.Lookup(uint32(0), &n); err != nil {
						t.Fatal(err)
					}
					return n
				}
				// ecc:twice is inlined twice; ecc:sem fires only while its
				// semaphore is raised.
				if n := run(); n != 2 && probe == "twice" || n != 1 && probe == "sem" {
					t.Errorf("%s fired %d times", probe, n)
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				before := run()
				if after := run(); after != before {
					t.Errorf("%s fired after Close: %d → %d", probe, before, after)
				}
			}
		})
	}
}
