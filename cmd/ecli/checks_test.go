package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
)

// buildArches builds an example for the architectures given, into a
// folder of its own, and returns the folder.
func buildArches(t *testing.T, name string, arches ...string) string {
	t.Helper()
	testenv.BPFBuild(t)
	as, err := compiler.ParseArches(arches)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join("..", "..", "examples", name, name+".bpf.c")
	hdr := filepath.Join("..", "..", "examples", name, name+".h")
	var stderr bytes.Buffer
	if _, err := compiler.Build(context.Background(), &compiler.Options{Source: src, ExportHeader: hdr, Arches: as,
		OutDir: dir, CacheDir: filepath.Join(tmpRoot, "cache"), Stderr: &stderr}); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	return dir
}

// otherArch is an architecture that is not this machine's.
func otherArch() string {
	if packager.HostArch() == "arm64" {
		return "x86_64"
	}
	return "arm64"
}

// A package built for another architecture is refused before anything is
// loaded, by ecli run and ecli run --dry-run alike, in one line naming
// both architectures; a build folder with several architectures runs the
// machine's, wherever ecc build put it.
func TestRunForeignArch(t *testing.T) {
	host, other := packager.HostArch(), otherArch()
	foreign := buildArches(t, "execsnoop", other)
	want := "ecli: " + foreign + ": package execsnoop was built for " + other + "; this machine is " + host + "\n" +
		"ecli: hint: rebuild it with ecc build --arch " + host + " (or --arch " + other + "," + host + " for both)\n"
	for _, args := range [][]string{
		{"run", foreign},
		{"run", "--dry-run", foreign},
		{"run", filepath.Join(foreign, "package.json")},
	} {
		stdout, stderr, status := ecli(t, args...)
		want := want
		if args[len(args)-1] != foreign {
			want = strings.Replace(want, foreign, args[len(args)-1], 1)
		}
		if status != 1 || stderr != want || stdout != "" {
			t.Errorf("ecli %s: status %d\nstdout %q\nstderr %q\nwant   %q", strings.Join(args, " "), status, stdout, stderr, want)
		}
	}

	// The foreign architecture first: ecc build puts it at the top of the
	// folder, and this machine's in HOST/.
	both := buildArches(t, "execsnoop", other, host)
	if _, err := os.Stat(filepath.Join(both, host, "package.json")); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, status := ecli(t, "run", "--dry-run", both)
	if status != 0 || !strings.Contains(stdout, "tracepoint sched/sched_process_exec") {
		t.Errorf("dry run of a two-architecture folder: status %d\nstdout %s\nstderr %s", status, stdout, stderr)
	}
}
