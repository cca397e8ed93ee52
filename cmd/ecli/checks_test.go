package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"golang.org/x/sys/unix"
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

// asUser runs ecli with the credentials and capabilities prep sets up:
// from a folder every user can read, with a HOME of its own.
func asUser(t *testing.T, prep func(cmd *exec.Cmd), pkgs []string, args ...string) (string, string, int) {
	t.Helper()
	dir, err := os.MkdirTemp("", "ecli-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	copyFile := func(from, to string, mode os.FileMode) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "ecli")
	copyFile(ecliBin, bin, 0o755)
	for i, p := range pkgs {
		copyFile(p, filepath.Join(dir, fmt.Sprintf("p%d.json", i)), 0o644)
	}
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o777)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
	prep(cmd)
	return runCmd(t, cmd)
}

// Run by a user without the capabilities BPF takes, ecli says in one line
// what is needed, naming the extra capability of an XDP package, and
// which of them the process lacks.
func TestRunUnprivileged(t *testing.T) {
	testenv.Kernel(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run ecli as another user")
	}
	nobody := func(cmd *exec.Cmd) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	bpfCaps := func(cmd *exec.Cmd) {
		nobody(cmd)
		cmd.SysProcAttr.AmbientCaps = []uintptr{unix.CAP_BPF, unix.CAP_PERFMON}
	}
	// Root without CAP_NET_ADMIN (nor CAP_SYS_ADMIN, which the kernel takes
	// for any other): setpriv drops them from the bounding set, so ecli
	// starts without them.
	noNetAdmin := func(cmd *exec.Cmd) {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Skip("no setpriv (util-linux)")
		}
		cmd.Args = append([]string{setpriv, "--bounding-set=-net_admin,-sys_admin", cmd.Path}, cmd.Args[1:]...)
		cmd.Path = setpriv
	}
	pkgs := []string{buildPkg(t, "execsnoop"), buildPkg(t, "xdpcount")}
	for _, c := range []struct {
		name string
		prep func(*exec.Cmd)
		args []string
		want string
	}{
		{"tracepoint as nobody", nobody, []string{"run", "-d", "2s", "p0.json"},
			"ecli: p0.json: loading needs root or CAP_BPF and CAP_PERFMON (this package also reads tracefs for its tracepoints: CAP_DAC_READ_SEARCH); this process lacks CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH\n"},
		// With CAP_BPF and CAP_PERFMON it loads, but tracefs is root's.
		{"tracepoint as nobody with CAP_BPF and CAP_PERFMON", bpfCaps, []string{"run", "-d", "2s", "p0.json"},
			"ecli: handle_exec → tracepoint sched/sched_process_exec\n" +
				"ecli: p0.json: attaching needs root or CAP_BPF and CAP_PERFMON (this package also reads tracefs for its tracepoints: CAP_DAC_READ_SEARCH); this process lacks CAP_DAC_READ_SEARCH\n"},
		{"xdp as nobody", nobody, []string{"run", "-d", "2s", "--ifname", "lo", "p1.json"},
			"ecli: p1.json: loading needs root or CAP_BPF and CAP_PERFMON (this package also attaches XDP: CAP_NET_ADMIN); this process lacks CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN\n"},
		{"xdp as root without CAP_NET_ADMIN", noNetAdmin, []string{"run", "-d", "2s", "--ifname", "lo", "p1.json"},
			"ecli: p1.json: loading needs root or CAP_BPF and CAP_PERFMON (this package also attaches XDP: CAP_NET_ADMIN); this process lacks CAP_NET_ADMIN\n"},
	} { // -d on every run: an ecli that loads by mistake stops on its own
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, status := asUser(t, c.prep, pkgs, c.args...)
			want := c.want + "ecli: hint: run it with sudo\n"
			if status != 1 || stderr != want {
				t.Errorf("status %d\nstderr %q\nwant   %q\nstdout %s", status, stderr, want, stdout)
			}
		})
	}
	// What the message names is enough.
	enough := func(cmd *exec.Cmd) {
		nobody(cmd)
		cmd.SysProcAttr.AmbientCaps = []uintptr{unix.CAP_BPF, unix.CAP_PERFMON, unix.CAP_DAC_READ_SEARCH}
	}
	stdout, stderr, status := asUser(t, enough, pkgs, "run", "-d", "500ms", "p0.json")
	if status != 0 || !strings.HasPrefix(stdout, "TIME ") {
		t.Errorf("as nobody with the capabilities named: status %d\nstdout %s\nstderr %s", status, stdout, stderr)
	}
}
