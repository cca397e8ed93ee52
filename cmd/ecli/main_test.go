package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/testenv"
)

var ecliBin, tmpRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ecli-cli-test-")
	if err != nil {
		panic(err)
	}
	tmpRoot = dir
	ecliBin = filepath.Join(dir, "ecli")
	if out, err := exec.Command("go", "build", "-o", ecliBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildPkg(t *testing.T, name string) string {
	t.Helper()
	testenv.Clang(t)
	src := filepath.Join("..", "..", "examples", name, name+".bpf.c")
	hdr := filepath.Join("..", "..", "examples", name, name+".h")
	if _, err := os.Stat(hdr); err != nil {
		hdr = ""
	}
	var stderr bytes.Buffer
	res, err := compiler.Build(context.Background(), &compiler.Options{Source: src, ExportHeader: hdr,
		OutDir: t.TempDir(), CacheDir: filepath.Join(tmpRoot, "cache"), Stderr: &stderr})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	return res.Outputs[0].Package
}

func ecli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCmd(t, exec.Command(ecliBin, args...))
}

// runCmd runs cmd and returns its stdout, stderr and exit status.
func runCmd(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	status := 0
	if errors.As(err, &ee) {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), status
}

// ids lists the BPF programs and links in the kernel.
func ids(t *testing.T) (progs, links map[uint32]bool) {
	progs, links = map[uint32]bool{}, map[uint32]bool{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			break
		}
		progs[uint32(next)] = true
		id = next
	}
	// BPF_LINK_GET_NEXT_ID: cilium/ebpf has no wrapper for it.
	var attr struct{ start, next, flags uint32 }
	for {
		_, _, errno := unix.Syscall(unix.SYS_BPF, 31, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		if errno != 0 {
			break
		}
		links[attr.next] = true
		attr.start = attr.next
	}
	return progs, links
}

// SIGINT and SIGTERM stop ecli run cleanly: exit status 0 and nothing of
// ours left in the kernel.
func TestSignalsDetachEverything(t *testing.T) {
	testenv.Kernel(t)
	pkg := buildPkg(t, "runqlat") // three programs, three links
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			beforeP, beforeL := ids(t)
			cmd := exec.Command(ecliBin, "run", "-v", pkg)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.Stdout = &bytes.Buffer{}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for strings.Count(stderr.String(), "attached") < 3 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			duringP, duringL := ids(t)
			var ours []uint32
			for id := range duringP {
				if !beforeP[id] {
					ours = append(ours, id)
				}
			}
			var ourLinks []uint32
			for id := range duringL {
				if !beforeL[id] {
					ourLinks = append(ourLinks, id)
				}
			}
			if len(ours) < 3 || len(ourLinks) < 3 {
				t.Fatalf("expected ≥3 new programs and links while running, got %d and %d\n%s", len(ours), len(ourLinks), stderr.String())
			}
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit after %v: %v\n%s", sig, err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("did not exit within 10s of %v", sig)
			}
			// The kernel frees programs and links asynchronously after the
			// last fd closes: give it a moment.
			afterP, afterL := ids(t)
			for wait := time.Now().Add(3 * time.Second); time.Now().Before(wait); time.Sleep(50 * time.Millisecond) {
				left := 0
				for _, id := range ours {
					if afterP[id] {
						left++
					}
				}
				for _, id := range ourLinks {
					if afterL[id] {
						left++
					}
				}
				if left == 0 {
					break
				}
				afterP, afterL = ids(t)
			}
			for _, id := range ours {
				if afterP[id] {
					t.Errorf("program %d still loaded after %v", id, sig)
				}
			}
			for _, id := range ourLinks {
				if afterL[id] {
					t.Errorf("link %d still in the kernel after %v", id, sig)
				}
			}
		})
	}
}

func TestRunBadInput(t *testing.T) {
	testenv.Kernel(t)
	pkg := buildPkg(t, "opensnoop")
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.json")
	os.WriteFile(junk, []byte(`{"bpf_object": "!!", "bpf_object_size": 3, "meta": {"bpf_skel": {"obj_name": "x"}}}`), 0o644)
	// status 2: a command line ecli or the program does not take.
	for _, c := range []struct {
		name   string
		args   []string
		wants  []string
		status int
	}{
		{"missing package", []string{"run", filepath.Join(dir, "nope.json")}, []string{"nope.json", "no such file"}, 1},
		{"no package", []string{"run"}, []string{"ecli run: expects a PACKAGE"}, 2},
		{"junk package", []string{"run", junk}, []string{"junk.json", "base64"}, 1},
		{"unknown program flag", []string{"run", pkg, "--nope"}, []string{"ecli run: unknown flag --nope"}, 2},
		{"misspelt program flag", []string{"run", pkg, "--faild"}, []string{"unknown flag --faild (did you mean --failed?)"}, 2},
		{"bad flag value", []string{"run", pkg, "--pid", "abc"}, []string{"--pid", "abc"}, 2},
		{"ecli flag after package", []string{"run", pkg, "--json"}, []string{"put it before PACKAGE"}, 2},
		{"misspelt ecli flag", []string{"run", "--duraton", "1s", pkg}, []string{"ecli run: unknown flag --duraton (did you mean --duration?); see 'ecli run --help'"}, 2},
		{"program flag before package", []string{"run", "-p", "1", pkg}, []string{"ecli run: unknown flag -p", "the program's own after it: ecli run [FLAGS] PACKAGE -p"}, 2},
		{"package without run", []string{pkg}, []string{"unknown command", "to run a package: ecli run " + pkg}, 2},
		{"bad duration", []string{"run", "-d", "soon", pkg}, []string{"--duration", "soon"}, 1},
		{"xdp without ifname", []string{"run", buildPkg(t, "xdpcount")}, []string{"--ifname"}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, status := ecli(t, c.args...)
			if status != c.status {
				t.Errorf("status %d, want %d", status, c.status)
			}
			for _, w := range c.wants {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "goroutine ") {
				t.Errorf("panic:\n%s", stderr)
			}
		})
	}
}

func TestProgramHelp(t *testing.T) {
	testenv.Kernel(t)
	pkg := buildPkg(t, "opensnoop")
	stdout, stderr, status := ecli(t, "run", pkg, "--help")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	for _, want := range []string{"--pid", "-p", "--failed", "--comm", "char[16]"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, stdout)
		}
	}
}

func TestDurationStops(t *testing.T) {
	testenv.Kernel(t)
	pkg := buildPkg(t, "execsnoop")
	start := time.Now()
	_, stderr, status := ecli(t, "run", "-d", "300ms", pkg)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("-d 300ms took %v", took)
	}
}
