package attach

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

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
		{coll, []string{"zz=bin:p:n"}, "no program zz (SEC(\"usdt\") programs: a, b)"},
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
