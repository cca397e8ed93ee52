package compiler

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseClangVersion(t *testing.T) {
	for in, want := range map[string]struct {
		v string
		m int
	}{
		"Debian clang version 19.1.7 (3~deb12u1)\nTarget: x86_64-pc-linux-gnu": {"19.1.7", 19},
		"clang version 14.0.6":                   {"14.0.6", 14},
		"Ubuntu clang version 18.1.3 (1ubuntu1)": {"18.1.3", 18},
		"Apple clang version 15.0":               {"15.0", 15},
		"gcc (Debian 12.2.0-14) 12.2.0":          {"", 0},
		"":                                       {"", 0},
	} {
		v, m := parseClangVersion(in)
		if v != want.v || m != want.m {
			t.Errorf("parseClangVersion(%q) = %q, %d; want %q, %d", in, v, m, want.v, want.m)
		}
	}
}

func TestParseIncludeDirs(t *testing.T) {
	out := `clang -cc1 version 19.1.7 based upon LLVM 19.1.7 default target x86_64-pc-linux-gnu
ignoring nonexistent directory "/usr/bin/../lib/gcc/x86_64-linux-gnu/12/../../../../x86_64-linux-gnu/include"
#include "..." search starts here:
#include <...> search starts here:
 /usr/lib/llvm-19/lib/clang/19/include
 /usr/local/include
 /usr/include/x86_64-linux-gnu
 /usr/include
End of search list.
`
	want := []string{"/usr/lib/llvm-19/lib/clang/19/include", "/usr/local/include", "/usr/include/x86_64-linux-gnu", "/usr/include"}
	if got := parseIncludeDirs(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
}

// fakeClang writes a shell script that answers like clang of the given
// version, and counts its runs in DIR/NAME.runs.
func fakeClang(t *testing.T, dir, name, version string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	script := `#!/bin/sh
echo run >> "` + p + `.runs"
case "$1" in
--version) echo "clang version ` + version + `"; echo "Target: x86_64-pc-linux-gnu" ;;
-v) echo '#include <...> search starts here:' >&2; echo ' /fake/include/` + name + `' >&2; echo 'End of search list.' >&2 ;;
esac
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func runs(p string) int {
	b, _ := os.ReadFile(p + ".runs")
	return strings.Count(string(b), "run")
}

func TestFindClangPrefersNewest(t *testing.T) {
	bin := t.TempDir()
	fakeClang(t, bin, "clang", "13.0.0")
	fakeClang(t, bin, "clang-15", "15.0.7")
	newest := fakeClang(t, bin, "clang-17", "17.0.6")
	t.Setenv("PATH", bin)
	t.Setenv("ECC_CLANG", "")
	cache := t.TempDir()
	c, err := FindClang("", cache)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != newest || c.Major != 17 || c.Version != "17.0.6" {
		t.Fatalf("got %+v", c)
	}
	if !reflect.DeepEqual(c.IncludeDirs, []string{"/fake/include/clang-17"}) {
		t.Fatalf("include dirs %q", c.IncludeDirs)
	}
	// The second lookup comes from the cache: clang is not run again.
	n := runs(newest)
	if _, err := FindClang("", cache); err != nil {
		t.Fatal(err)
	}
	if runs(newest) != n {
		t.Fatalf("clang ran again (%d → %d runs)", n, runs(newest))
	}
}

func TestFindClangExplicit(t *testing.T) {
	bin := t.TempDir()
	fakeClang(t, bin, "clang-18", "18.1.0")
	mine := fakeClang(t, bin, "myclang", "15.0.0")
	t.Setenv("PATH", bin)
	t.Setenv("ECC_CLANG", "")
	c, err := FindClang(mine, "")
	if err != nil || c.Major != 15 {
		t.Fatalf("explicit path: %+v, %v", c, err)
	}
	t.Setenv("ECC_CLANG", "myclang")
	if c, err := FindClang("", ""); err != nil || c.Path != mine {
		t.Fatalf("ECC_CLANG: %+v, %v", c, err)
	}
	_, err = FindClang(filepath.Join(bin, "nope"), "")
	if !errors.Is(err, ErrNoClang) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("missing explicit clang: %v", err)
	}
}

func TestFindClangTooOld(t *testing.T) {
	bin := t.TempDir()
	fakeClang(t, bin, "clang", "13.0.1")
	t.Setenv("PATH", bin)
	t.Setenv("ECC_CLANG", "")
	_, err := FindClang("", "")
	if !errors.Is(err, ErrNoClang) || !strings.Contains(err.Error(), "clang 13.0.1") || !strings.Contains(err.Error(), "14 or newer") {
		t.Fatalf("got %v", err)
	}
}

func TestFindClangNone(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("ECC_CLANG", "")
	_, err := FindClang("", "")
	if !errors.Is(err, ErrNoClang) || !strings.Contains(err.Error(), "apt-get install clang-19") {
		t.Fatalf("got %v", err)
	}
}

func TestFindClangNotClang(t *testing.T) {
	bin := t.TempDir()
	p := filepath.Join(bin, "gcc")
	os.WriteFile(p, []byte("#!/bin/sh\necho 'gcc (Debian 12.2.0) 12.2.0'\n"), 0o755)
	_, err := FindClang(p, "")
	if !errors.Is(err, ErrNoClang) || !strings.Contains(err.Error(), "does not look like clang") {
		t.Fatalf("got %v", err)
	}
}

func TestParseArches(t *testing.T) {
	got, err := ParseArches([]string{"amd64,aarch64", "x86_64", " riscv64 "})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range got {
		names = append(names, a.Name+"/"+a.Target+"/"+a.OCI)
	}
	want := []string{"x86_64/x86/amd64", "arm64/arm64/arm64", "riscv64/riscv/riscv64"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("got %v", names)
	}
	if def, _ := ParseArches(nil); len(def) != 1 || def[0] != HostArch() {
		t.Fatalf("default %v", def)
	}
	if _, err := ParseArches([]string{"x86_64,mips"}); err == nil || !strings.Contains(err.Error(), `"mips"`) {
		t.Fatalf("unknown arch: %v", err)
	}
}

func TestClangArgs(t *testing.T) {
	b := &builder{
		o:       &Options{CFlags: []string{"-DX=1", "-Wall"}},
		src:     "/src/prog/x.bpf.c",
		include: "/cache/include/abc",
		clang:   &Clang{IncludeDirs: []string{"/usr/lib/llvm-19/lib/clang/19/include", "/usr/include"}},
	}
	a, _ := ParseArch("arm64")
	got := strings.Join(b.clangArgs(a, &btfInfo{dir: "/cache/vmlinux/123", foreign: true}, "/src/prog/x.bpf.c", "/w/x.bpf.o", "/w/deps.d"), " ")
	want := "-g -O2 -target bpf -D__TARGET_ARCH_arm64 -D__ECC_FOREIGN_BTF -I/src/prog -I/cache/include/abc -I/cache/vmlinux/123 " +
		"-idirafter /usr/lib/llvm-19/lib/clang/19/include -idirafter /usr/include -DX=1 -Wall " +
		"-MD -MF /w/deps.d -c /src/prog/x.bpf.c -o /w/x.bpf.o"
	if got != want {
		t.Fatalf("args:\n got %s\nwant %s", got, want)
	}
}

func TestReadDeps(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a b.h")
	c := filepath.Join(dir, "c.h")
	w := filepath.Join(dir, "wrap.c")
	for _, f := range []string{a, c, w} {
		os.WriteFile(f, []byte(f), 0o644)
	}
	dep := filepath.Join(dir, "deps.d")
	esc := strings.ReplaceAll(a, " ", `\ `)
	os.WriteFile(dep, []byte("x.o: "+w+" \\\n  "+esc+" "+c+" \\\n  "+c+"\n"), 0o644)
	deps, err := readDeps(dep, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 2 || deps[0].Path != a || deps[1].Path != c || deps[0].Sum == "" {
		t.Fatalf("deps %+v", deps)
	}
}

func TestFilterWrapper(t *testing.T) {
	diag := "In file included from /tmp/w/x.ecc.c:1:\n/src/x.bpf.c:3:5: error: unknown type name 'foo'\n    3 | foo bar;\n"
	got := string(filterWrapper([]byte(diag), "/tmp/w/x.ecc.c"))
	if got != "/src/x.bpf.c:3:5: error: unknown type name 'foo'\n    3 | foo bar;\n" {
		t.Fatalf("got %q", got)
	}
}

func TestNameOf(t *testing.T) {
	for in, want := range map[string]string{"a/execsnoop.bpf.c": "execsnoop", "x.c": "x", "/p/q.r.s.c": "q"} {
		if got := NameOf(in); got != want {
			t.Errorf("NameOf(%q) = %q", in, got)
		}
	}
}
