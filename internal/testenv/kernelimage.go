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

// DebianVmlinuz returns a vmlinuz of another kernel than this host's, for
// tests that read its BTF: $ECC_TEST_VMLINUZ, else the boot/vmlinuz-* of
// the first linux-image-<version>-cloud-amd64 package found (kernelDeb),
// unpacked once with dpkg-deb into the temporary folder. Without one the
// test is skipped (or fails, see Required).
func DebianVmlinuz(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ECC_TEST_VMLINUZ"); p != "" {
		return p
	}
	deb, dir := kernelDeb("amd64")
	if deb == "" {
		Missing(t, "no Debian kernel package (linux-image-*-cloud-amd64_*.deb) in %s and no ECC_TEST_VMLINUZ", strings.Join(dir, " or "))
	}
	return unpackVmlinuz(t, deb)
}

// DebianArm64Vmlinuz is DebianVmlinuz for Debian's arm64 cloud kernel
// (linux-image-*-cloud-arm64_*.deb, which make vm-deps downloads after
// `dpkg --add-architecture arm64`).
func DebianArm64Vmlinuz(t testing.TB) string {
	t.Helper()
	return unpackVmlinuz(t, arm64Deb(t))
}

// arm64Deb is the arm64 kernel package; the test is skipped (or fails,
// see Required) without one.
func arm64Deb(t testing.TB) string {
	t.Helper()
	deb, dirs := kernelDeb("arm64")
	if deb == "" {
		Missing(t, "no Debian arm64 kernel package (linux-image-*-cloud-arm64_*.deb) in %s (make vm-deps downloads it)", strings.Join(dirs, " or "))
	}
	return deb
}

// kernelDeb finds a Debian cloud kernel package of arch ("" when there is
// none) and says where it looked: $ECC_TEST_KERNEL_DIR, else the
// repository's .tools/kernels, where make vm-deps downloads it.
func kernelDeb(arch string) (deb string, dirs []string) {
	if d := os.Getenv("ECC_TEST_KERNEL_DIR"); d != "" {
		dirs = []string{d}
	} else {
		if root := moduleDir(); root != "" {
			dirs = append(dirs, filepath.Join(root, ".tools", "kernels"))
		}
	}
	for _, dir := range dirs {
		if debs, _ := filepath.Glob(filepath.Join(dir, "linux-image-[0-9]*-cloud-"+arch+"_*.deb")); len(debs) > 0 {
			return debs[len(debs)-1], dirs
		}
	}
	return "", dirs
}

// moduleDir is the folder of the go.mod above the working folder ("" if
// none).
func moduleDir() string {
	dir, err := os.Getwd()
	for err == nil {
		if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
			return dir
		}
		if parent := filepath.Dir(dir); parent != dir {
			dir = parent
			continue
		}
		break
	}
	return ""
}

// unpackVmlinuz unpacks a kernel package once into the temporary folder
// and returns its boot/vmlinuz-*.
func unpackVmlinuz(t testing.TB, deb string) string {
	t.Helper()
	out := filepath.Join(os.TempDir(), "ecc-test-kernel-"+filepath.Base(deb))
	if got, _ := filepath.Glob(filepath.Join(out, "boot", "vmlinuz-*")); len(got) == 1 {
		return got[0]
	}
	dpkg := Tool(t, "dpkg-deb")
	tmp, err := os.MkdirTemp(os.TempDir(), ".ecc-test-kernel-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if b, err := exec.Command(dpkg, "-x", deb, tmp).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x %s: %v\n%s", deb, err, b)
	}
	if err := os.Rename(tmp, out); err != nil && !os.IsExist(err) {
		if got, _ := filepath.Glob(filepath.Join(out, "boot", "vmlinuz-*")); len(got) != 1 {
			t.Fatal(err)
		}
	}
	got, _ := filepath.Glob(filepath.Join(out, "boot", "vmlinuz-*"))
	if len(got) != 1 {
		t.Fatalf("%s holds no single boot/vmlinuz-*", deb)
	}
	return got[0]
}
