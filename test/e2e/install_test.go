package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make install into a DESTDIR, from the binaries under test: both tools,
// their man pages and completions, where a system looks for them, and
// the tools run from a PATH like sudo's secure_path.
func TestMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dest := t.TempDir()
	// The binaries under test, linked into a folder of their own with an
	// ecli-arm64 (make ecli-arm64's, installed when there is one).
	bin := t.TempDir()
	for _, b := range []string{eccBin, ecliBin} {
		if err := os.Link(b, filepath.Join(bin, filepath.Base(b))); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(bin, "ecli-arm64"), []byte("stands in for the arm64 ecli"), 0o755)
	// The binaries are newer than the sources: make installs, never builds.
	cmd := exec.Command("make", "--no-print-directory", "install", "DESTDIR="+dest, "BIN="+bin, "GO=false")
	cmd.Dir = repo()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	prefix := filepath.Join(dest, "usr", "local")
	for _, tool := range []string{"ecc", "ecli"} {
		for _, f := range []string{"bin/" + tool, "share/man/man1/" + tool + ".1", "share/bash-completion/completions/" + tool,
			"share/zsh/site-functions/_" + tool, "share/fish/vendor_completions.d/" + tool + ".fish"} {
			st, err := os.Stat(filepath.Join(prefix, f))
			if err != nil || st.Size() == 0 {
				t.Errorf("%s: %v", f, err)
			}
		}
		// Found on a PATH like sudo's (secure_path has /usr/local/bin).
		run := exec.Command("/bin/sh", "-c", tool+" --version")
		run.Env = []string{"PATH=" + filepath.Join(prefix, "bin") + ":/usr/sbin:/usr/bin:/sbin:/bin"}
		out, err := run.Output()
		if err != nil || !strings.HasPrefix(string(out), tool+" ") {
			t.Errorf("%s --version from the installed PATH: %v %q", tool, err, out)
		}
		// man reads the page, and it documents the commands.
		if man, err := exec.LookPath("man"); err == nil {
			page, err := exec.Command(man, "-l", filepath.Join(prefix, "share/man/man1", tool+".1")).Output()
			if err != nil || !strings.Contains(string(page), "COMMANDS") || !strings.Contains(string(page), tool+" inspect") {
				t.Errorf("man -l %s.1: %v\n%s", tool, err, tail(string(page), 500))
			}
		}
		// bash loads the completion and it completes the tool's commands.
		comp := exec.Command("bash", "--norc", "-c", `source "$1"; COMP_WORDS=(`+tool+` insp); COMP_CWORD=1; _`+tool+`_complete; echo "${COMPREPLY[*]}"`,
			"bash", filepath.Join(prefix, "share/bash-completion/completions", tool))
		comp.Env = run.Env
		if out, err := comp.Output(); err != nil || strings.TrimSpace(string(out)) != "inspect" {
			t.Errorf("bash completion of %q: %v %q", tool+" insp", err, out)
		}
	}
	if got, err := os.ReadFile(filepath.Join(prefix, "bin", "ecli-arm64")); err != nil || string(got) != "stands in for the arm64 ecli" {
		t.Errorf("ecli-arm64 not installed: %v", err)
	}
	// uninstall takes everything back.
	cmd = exec.Command("make", "--no-print-directory", "uninstall", "DESTDIR="+dest)
	cmd.Dir = repo()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make uninstall: %v\n%s", err, out)
	}
	filepath.Walk(dest, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			t.Errorf("left after uninstall: %s", p)
		}
		return nil
	})
}
