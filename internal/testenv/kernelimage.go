package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// DebianRelease is the release of the vmlinuz DebianVmlinuz returns, from
// its name (vmlinuz-RELEASE), as Debian names it.
func DebianRelease(vmlinuz string) string {
	return strings.TrimPrefix(filepath.Base(vmlinuz), "vmlinuz-")
}

// KernelDebs is where tests look for Debian kernel packages
// (linux-image-*.deb) when ECC_TEST_VMLINUZ names no image.
var KernelDebs = "/work/kernels"

// DebianVmlinuz returns a vmlinuz of another kernel than this host's, for
// tests that read its BTF: $ECC_TEST_VMLINUZ, else the boot/vmlinuz-* of
// the first linux-image-<version>-cloud-amd64 package in KernelDebs (or
// $ECC_KERNEL_DEBS), unpacked once with dpkg-deb into the temporary
// folder. Without one the test is skipped (or fails, see Required).
func DebianVmlinuz(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ECC_TEST_VMLINUZ"); p != "" {
		return p
	}
	dir := KernelDebs
	if d := os.Getenv("ECC_KERNEL_DEBS"); d != "" {
		dir = d
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "linux-image-[0-9]*-cloud-amd64_*.deb"))
	if len(debs) == 0 {
		Missing(t, "no Debian kernel package (linux-image-*-cloud-amd64_*.deb) in %s and no ECC_TEST_VMLINUZ", dir)
	}
	out := filepath.Join(os.TempDir(), "ecc-test-kernel-"+filepath.Base(debs[0]))
	if got, _ := filepath.Glob(filepath.Join(out, "boot", "vmlinuz-*")); len(got) == 1 {
		return got[0]
	}
	dpkg := Tool(t, "dpkg-deb")
	tmp, err := os.MkdirTemp(os.TempDir(), ".ecc-test-kernel-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if b, err := exec.Command(dpkg, "-x", debs[0], tmp).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x %s: %v\n%s", debs[0], err, b)
	}
	if err := os.Rename(tmp, out); err != nil && !os.IsExist(err) {
		if got, _ := filepath.Glob(filepath.Join(out, "boot", "vmlinuz-*")); len(got) != 1 {
			t.Fatal(err)
		}
	}
	got, _ := filepath.Glob(filepath.Join(out, "boot", "vmlinuz-*"))
	if len(got) != 1 {
		t.Fatalf("%s holds no single boot/vmlinuz-*", debs[0])
	}
	return got[0]
}
