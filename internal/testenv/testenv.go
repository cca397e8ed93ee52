// Package testenv lets tests find the tools and kernel features they need,
// and skip with a visible reason when they are missing — unless
// ECC_REQUIRE_KERNEL=1 (set by CI), in which case they fail instead.
package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// Required reports whether missing kernel features and tools must fail tests.
func Required() bool { return os.Getenv("ECC_REQUIRE_KERNEL") == "1" }

// Missing skips the test, or fails it when Required.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf("ECC_REQUIRE_KERNEL=1 but "+format, args...)
	}
	t.Skipf("skipped: "+format, args...)
}

// Clang returns the newest clang on PATH (clang-30 … clang-14, clang).
func Clang(t testing.TB) string {
	t.Helper()
	for v := 30; v >= 14; v-- {
		if p, err := exec.LookPath("clang-" + strconv.Itoa(v)); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("clang"); err == nil {
		return p
	}
	Missing(t, "no clang on PATH (make deps installs clang-19)")
	return ""
}

// Tool returns the path of a command, or skips/fails.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed (make deps installs it)", name)
	}
	return p
}

// BPFBuild skips (or fails) the test unless BPF programs can be built
// here: clang, libbpf's headers and the kernel's BTF (for vmlinux.h).
func BPFBuild(t testing.TB) {
	t.Helper()
	Clang(t)
	if _, err := os.Stat("/usr/include/bpf/bpf_helpers.h"); err != nil {
		Missing(t, "libbpf headers are not installed (apt-get install libbpf-dev)")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		Missing(t, "no kernel BTF at /sys/kernel/btf/vmlinux")
	}
}

var bpfErr = sync.OnceValue(func() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return errors.New("the kernel exposes no BTF at /sys/kernel/btf/vmlinux")
	}
	return features.HaveProgramType(ebpf.SocketFilter)
})

// Kernel skips (or fails) the test unless BPF programs can be loaded here.
func Kernel(t testing.TB) {
	t.Helper()
	if err := bpfErr(); err != nil {
		Missing(t, "cannot load BPF programs: %v", err)
	}
}

// Exclusive holds a machine-wide lock named name until the test ends, for
// tests of different packages (which go test runs in parallel) that need
// the same kernel resource, e.g. the one XDP program an interface takes.
func Exclusive(t testing.TB, name string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "ecc-test-"+name+".lock"), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}

// OpenPTY opens a pseudo-terminal pair (to type into an interactive
// program, e.g. bash for readline probes).
func OpenPTY(t testing.TB) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		Missing(t, "no /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	master = os.NewFile(uintptr(fd), "ptmx")
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// VMKernel skips (or fails) the test unless ecc test can boot a kernel
// here: qemu-system-x86_64 on PATH and a Debian cloud kernel package
// (linux-image-*-cloud-amd64_*.deb) in $ECC_TEST_KERNEL_DIR, else in the
// repository's .tools/kernels, where make vm-deps downloads it. It
// returns the package's path.
func VMKernel(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		Missing(t, "qemu-system-x86_64 is not installed (make vm-deps installs qemu-system-x86)")
	}
	return KernelDeb(t)
}

// KernelDeb skips (or fails) the test without Debian's cloud kernel
// package (linux-image-*-cloud-amd64_*.deb) in $ECC_TEST_KERNEL_DIR, else
// in the repository's .tools/kernels; it returns the package's path.
func KernelDeb(t testing.TB) string {
	t.Helper()
	deb, dirs := kernelDeb("amd64")
	if deb == "" {
		Missing(t, "no linux-image-*-cloud-amd64 package in %s (make vm-deps downloads it)", strings.Join(dirs, " or "))
	}
	return deb
}

// VMArm64Kernel is VMKernel for Debian's arm64 cloud kernel, booted by
// qemu-system-aarch64: it returns the linux-image-*-cloud-arm64_*.deb.
func VMArm64Kernel(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-aarch64"); err != nil {
		Missing(t, "qemu-system-aarch64 is not installed (make vm-deps installs qemu-system-arm)")
	}
	return arm64Deb(t)
}

var (
	staticMu   sync.Mutex
	staticBins = map[string]string{}
)

// StaticProgram is a small statically linked Go program for linux/goarch
// (amd64, arm64, ...), a stand-in for the static ecli where only its ELF
// matters. It is built once per test binary (in seconds, from Go's build
// cache) into one folder under the temporary folder, shared by every run.
func StaticProgram(t testing.TB, goarch string) string {
	t.Helper()
	goTool := Tool(t, "go")
	staticMu.Lock()
	defer staticMu.Unlock()
	if p, ok := staticBins[goarch]; ok {
		return p
	}
	dir := filepath.Join(os.TempDir(), "ecc-test-static-programs")
	src, err := os.MkdirTemp(dir+"-src", "")
	if os.IsNotExist(err) {
		os.MkdirAll(dir+"-src", 0o755)
		src, err = os.MkdirTemp(dir+"-src", "")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(src)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module static\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"static\") }\n"), 0o644)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Built next to its name and renamed over it: tests of other
	// packages may be building it at the same time.
	bin := filepath.Join(dir, "static-"+goarch)
	tmp := filepath.Join(src, "out")
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build a static %s program: %v\n%s", goarch, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	staticBins[goarch] = bin
	return bin
}
