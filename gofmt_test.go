package ecc

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every Go file of the repository is as gofmt writes it.
func TestGofmt(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	gofmt := filepath.Join(filepath.Dir(goTool), "gofmt")
	files, err := exec.Command("git", "ls-files", "*.go").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	args := append([]string{"-l"}, strings.Fields(string(files))...)
	out, err := exec.Command(gofmt, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("gofmt: %v\n%s", err, out)
	}
	if len(out) > 0 {
		t.Errorf("gofmt would change these files (run gofmt -w):\n%s", out)
	}
}
