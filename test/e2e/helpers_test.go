package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// Running programs in the background while a test makes activity, and
// reading what ecli prints.

// compileC builds a helper program with the system C compiler.
func compileC(t *testing.T, name, src string, flags ...string) string {
	t.Helper()
	cc := testenv.Tool(t, "cc")
	dir := t.TempDir()
	c := filepath.Join(dir, name+".c")
	os.WriteFile(c, []byte(src), 0o644)
	bin := filepath.Join(dir, name)
	args := append(append([]string{}, flags...), "-o", bin, c)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("cc %s: %v\n%s", name, err, out)
	}
	return bin
}

// startBackground starts a helper that runs until the test ends.
func startBackground(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// ecliRun is ecli run in the background.
type ecliRun struct {
	cmd       *exec.Cmd
	out, errs *testenv.SyncBuffer
	done      chan struct{}
	err       error
	stopOnce  sync.Once
}

// startEcli starts ecli and returns once it has attached everything and
// reads the outputs (ECLI_TRACE marks that step). An interface holds one
// XDP program: while another test (of another package, run in parallel)
// has one on lo, ecli fails with EBUSY, and is started again.
func startEcli(t *testing.T, args ...string) *ecliRun {
	t.Helper()
	busyUntil := time.Now().Add(60 * time.Second)
	for {
		r, busy := tryEcli(t, args)
		if r != nil {
			return r
		}
		if !busy || time.Now().After(busyUntil) {
			t.Fatalf("ecli %s failed to start (see above)", strings.Join(args, " "))
		}
		t.Logf("the interface is busy (another test's XDP program?): trying again")
		time.Sleep(500 * time.Millisecond)
	}
}

func tryEcli(t *testing.T, args []string) (r *ecliRun, busy bool) {
	t.Helper()
	cmd := exec.Command(ecliBin, args...)
	cmd.Env = append(os.Environ(), "ECLI_TRACE=1")
	return tryEcliCmd(t, cmd, args)
}

// tryEcliCmd is tryEcli for a command that runs ecli in the end (with
// ECLI_TRACE=1 in its environment), e.g. ecli run in a chroot.
func tryEcliCmd(t *testing.T, cmd *exec.Cmd, args []string) (r *ecliRun, busy bool) {
	t.Helper()
	r = &ecliRun{out: &testenv.SyncBuffer{}, errs: &testenv.SyncBuffer{}, done: make(chan struct{}), cmd: cmd}
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.errs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(r.errs.String(), "ecli: trace: outputs") {
		select {
		case <-r.done:
			if strings.Contains(r.errs.String(), "device or resource busy") {
				return nil, true
			}
			t.Errorf("ecli %s ended before attaching: %v\n%s", strings.Join(args, " "), r.err, r.errs.String())
			return nil, false
		case <-deadline:
			r.cmd.Process.Kill()
			<-r.done
			t.Errorf("ecli %s did not attach within 30s\n%s", strings.Join(args, " "), r.errs.String())
			return nil, false
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Cleanup(func() { r.stop(t) })
	return r, false
}

// stop interrupts ecli (it prints @sample maps once more) and checks that
// it exits cleanly without warnings.
func (r *ecliRun) stop(t *testing.T) {
	r.stopOnce.Do(func() {
		r.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
			t.Errorf("ecli did not stop within 15s")
		}
		if r.err != nil {
			t.Errorf("ecli: %v\n%s", r.err, r.errs.String())
		}
		for _, l := range strings.Split(r.errs.String(), "\n") {
			if strings.Contains(l, "warning") || strings.Contains(l, "error") {
				t.Errorf("ecli stderr: %s", l)
			}
		}
	})
}

func (r *ecliRun) lines() []map[string]any { return r.out.JSONLines() }

// waitFor calls activity (when not nil) and polls the JSON lines until
// match accepts one, for up to 20s.
func (r *ecliRun) waitFor(t *testing.T, what string, activity func(), match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if activity != nil {
			activity()
		}
		for _, m := range r.lines() {
			if match(m) {
				return m
			}
		}
		select {
		case <-r.done:
			t.Fatalf("ecli ended: %v\n%s", r.err, r.errs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	out := r.out.String()
	if len(out) > 3000 {
		out = "…" + out[len(out)-3000:]
	}
	t.Fatalf("no %s in ecli's output:\n%s\nstderr: %s", what, out, r.errs.String())
	return nil
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func strs(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// startBash starts an interactive bash on a terminal until the test ends;
// it returns the terminal's master side to type into.
func startBash(t *testing.T) (*exec.Cmd, *os.File) {
	t.Helper()
	master, slave := testenv.OpenPTY(t)
	bash := exec.Command("/bin/bash", "--norc", "--noprofile", "-i")
	bash.Stdin, bash.Stdout, bash.Stderr = slave, slave, slave
	bash.Env = []string{"PATH=/usr/bin:/bin", "TERM=dumb", "PS1=$ "}
	bash.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := bash.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	t.Cleanup(func() { master.Close(); bash.Process.Kill(); bash.Wait() })
	go func() { // drain the terminal
		buf := make([]byte, 4096)
		for {
			if _, err := master.Read(buf); err != nil {
				return
			}
		}
	}()
	return bash, master
}

// udpListener is a bound UDP socket on 127.0.0.1.
func udpListener(t *testing.T) (net.PacketConn, int) {
	t.Helper()
	l, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, l.LocalAddr().(*net.UDPAddr).Port
}

func sendUDP(t *testing.T, port, n int) {
	t.Helper()
	c, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		if _, err := c.Write([]byte("ecc init test datagram")); err != nil {
			t.Fatal(err)
		}
	}
}

// received counts the datagrams l gets within wait.
func received(l net.PacketConn, wait time.Duration) int {
	buf := make([]byte, 2048)
	n := 0
	for {
		l.SetReadDeadline(time.Now().Add(wait))
		if _, _, err := l.ReadFrom(buf); err != nil {
			return n
		}
		n++
	}
}

// kvEntries returns the entries of a default_kv JSON line.
func kvEntries(m map[string]any) (keys, values []map[string]any) {
	ents, _ := m["entries"].([]any)
	for _, e := range ents {
		em, _ := e.(map[string]any)
		k, _ := em["key"].(map[string]any)
		v, _ := em["value"].(map[string]any)
		keys, values = append(keys, k), append(values, v)
	}
	return keys, values
}

// namedTrue is a copy of /bin/true named name, so that its exec is told
// apart from every other.
func namedTrue(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// waitOutput polls r's output until it contains s, for up to d.
func waitOutput(r *ecliRun, s string, d time.Duration) string {
	for deadline := time.Now().Add(d); time.Now().Before(deadline) && !strings.Contains(r.out.String(), s); {
		time.Sleep(50 * time.Millisecond)
	}
	return r.out.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
