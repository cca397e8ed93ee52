package commands

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/section"
	"github.com/ecc-bpf/ecc/runtime/loader"
	"golang.org/x/sys/unix"
)

// The errors of the build's and the runtime's checks get their advice
// line, wrapped as the libraries wrap them.
func TestExitChecks(t *testing.T) {
	for _, c := range []struct {
		name, prog string
		err        error
		want       string
	}{
		{"foreign arch", "ecli", fmt.Errorf("out/: %w", &packager.ArchError{Package: "execsnoop", Arch: "arm64", Host: "x86_64"}),
			"ecli: out/: package execsnoop was built for arm64; this machine is x86_64\n" +
				"ecli: hint: rebuild it with ecc build --arch x86_64 (or --arch arm64,x86_64 for both)\n"},
		{"unknown section", "ecc", fmt.Errorf("p.bpf.c: %w", &section.UnknownError{Program: "h", Section: "tracepont/a/b", Suggestion: "tracepoint/a/b"}),
			"ecc: p.bpf.c: section \"tracepont/a/b\" of program h is not a kind ecli can attach; did you mean \"tracepoint/a/b\"?\n" +
				"ecc: hint: fix the SEC(\"...\") name in the source (docs/guide.md, Attaching, lists the names ecli attaches), or start it with ? if other user space attaches the program\n"},
		{"not permitted", "ecli", fmt.Errorf("p.json: %w", &loader.PermissionError{Op: "loading", Missing: []string{"CAP_BPF"}, Err: unix.EPERM}),
			"ecli: p.json: loading needs root or CAP_BPF and CAP_PERFMON; this process lacks CAP_BPF\n" +
				"ecli: hint: run it with sudo\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if status := Exit(&b, c.prog, c.err); status != 1 || b.String() != c.want {
				t.Errorf("Exit = %d, %q; want 1, %q", status, b.String(), c.want)
			}
		})
	}
}
