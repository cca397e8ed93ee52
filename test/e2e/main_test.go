package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The binaries under test, built once by TestMain.
var eccBin, ecliBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ecc-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/ecc", "./cmd/ecli")
	build.Dir = repo()
	// As make build does: a static ecli, which ecc test boots as the
	// init of its VMs (it takes the ecli next to ecc).
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/ecc ./cmd/ecli: %v\n%s", err, out)
		return 1
	}
	eccBin, ecliBin = filepath.Join(dir, "ecc"), filepath.Join(dir, "ecli")
	// One build cache for every ecc build of the run.
	os.Setenv("ECC_CACHE_DIR", filepath.Join(dir, "cache"))
	return m.Run()
}

// repo is the repository's root, joined with elem.
func repo(elem ...string) string {
	return filepath.Join(append([]string{"..", ".."}, elem...)...)
}

// result is how a command ended.
type result struct {
	stdout, stderr string
	status         int
	took           time.Duration
	maxRSS         int64 // bytes
}

// run runs bin in dir (the test's own when "") with extra environment and
// stdin; it fails the test only when bin cannot start.
func run(t *testing.T, dir string, env []string, stdin, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: o.String(), stderr: e.String(), took: time.Since(start)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss << 10
	}
	return r
}

// ecc runs the ecc binary.
func ecc(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	r := run(t, "", nil, "", eccBin, args...)
	return r.stdout, r.stderr, r.status
}

// env is a clean environment for ecc/ecli: its own docker config and store.
type env struct {
	t            *testing.T
	dockerConfig string
	store        string
}

func newEnv(t *testing.T) *env {
	return &env{t: t, dockerConfig: t.TempDir(), store: t.TempDir()}
}

func (e *env) vars() []string {
	return []string{"DOCKER_CONFIG=" + e.dockerConfig, "ECC_STORE_DIR=" + e.store,
		"ECC_REGISTRY_USERNAME=", "ECC_REGISTRY_PASSWORD="}
}

func (e *env) run(stdin string, bin string, args ...string) (string, string, int) {
	e.t.Helper()
	r := run(e.t, "", e.vars(), stdin, bin, args...)
	return r.stdout, r.stderr, r.status
}

func (e *env) ok(stdin, bin string, args ...string) string {
	e.t.Helper()
	out, errs, status := e.run(stdin, bin, args...)
	if status != 0 {
		e.t.Fatalf("%s %s: status %d\n%s%s", filepath.Base(bin), strings.Join(args, " "), status, out, errs)
	}
	return out
}

// runIn runs bin in dir with e's docker config and store.
func (e *env) runIn(dir, bin string, args ...string) result {
	e.t.Helper()
	return run(e.t, dir, e.vars(), "", bin, args...)
}
