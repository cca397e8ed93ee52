package vm

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/ecc-bpf/ecc/internal/kimage"
	"github.com/ecc-bpf/ecc/packager"
)

// NotStaticError is a program the VM cannot run: the initramfs has no
// shared libraries, so everything in it must be statically linked, and
// for the kernel's architecture.
type NotStaticError struct {
	Path string
	// What the file was wanted for ("ecli", "--ecli", "COMMAND", "busybox").
	Role string
	Err  error
}

func (e *NotStaticError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s %s: %v", e.Role, e.Path, e.Err)
	}
	return fmt.Sprintf("%s %s is dynamically linked; the VM has no shared libraries", e.Role, e.Path)
}
func (e *NotStaticError) Unwrap() error { return e.Err }

// ErrNoEcli is wrapped when no static ecli is found.
var ErrNoEcli = errors.New("no statically linked ecli found (it is the VM's init)")

// NoEcliError is no static ecli for an architecture; Errs are the
// candidates found unfit.
type NoEcliError struct {
	Arch string
	Errs []error
}

func (e *NoEcliError) Error() string {
	msg := fmt.Sprintf("no statically linked %s ecli found (it is the VM's init)", e.Arch)
	if len(e.Errs) > 0 {
		msg += "\n" + errors.Join(e.Errs...).Error()
	}
	return msg
}
func (e *NoEcliError) Is(target error) bool { return target == ErrNoEcli }

// ErrNoBusybox is wrapped when a COMMAND needs busybox and none is found.
var ErrNoBusybox = errors.New("COMMAND names no file: it runs as a busybox applet, and no statically linked busybox is installed")

// staticArch returns the architecture of a statically linked ELF
// executable.
func staticArch(path, role string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", &NotStaticError{Path: path, Role: role, Err: fmt.Errorf("not an ELF executable: %w", err)}
	}
	defer f.Close()
	if kimage.Interp(f) != "" {
		return "", &NotStaticError{Path: path, Role: role}
	}
	arch := kimage.ELFArch(f)
	if arch == "" {
		return "", &NotStaticError{Path: path, Role: role, Err: fmt.Errorf("built for %s; ecc test boots x86_64 and arm64 kernels", f.Machine)}
	}
	return arch, nil
}

// checkStatic reports whether path is a static ELF executable for arch.
func checkStatic(path, role, arch string) error {
	got, err := staticArch(path, role)
	if err == nil && got != arch {
		err = &NotStaticError{Path: path, Role: role, Err: fmt.Errorf("built for %s; the kernel is %s", got, arch)}
	}
	return err
}

// eclis sorts the --ecli programs by architecture (read from each ELF).
func eclis(paths []string) (map[string]string, error) {
	byArch := map[string]string{}
	for _, p := range paths {
		arch, err := staticArch(p, "--ecli")
		if err != nil {
			return nil, err
		}
		if prev, ok := byArch[arch]; ok {
			return nil, fmt.Errorf("--ecli %s and --ecli %s are both for %s: give one per architecture", prev, p, arch)
		}
		byArch[arch] = p
	}
	return byArch, nil
}

// EcliNames are the names an ecli for arch is looked for by, next to the
// running executable and then on PATH: ecli-ARCH (ecli-arm64, what make
// ecli-arm64 builds), and for this machine's architecture ecli itself.
func EcliNames(arch string) []string {
	names := []string{"ecli-" + arch}
	if arch == packager.HostArch() {
		names = append([]string{"ecli"}, names...)
	}
	return names
}

// findEcli returns the static ecli for arch: given (--ecli), else one
// named as EcliNames says next to the running executable (bin/ecc beside
// bin/ecli), else on PATH.
func findEcli(arch string, given map[string]string) (string, error) {
	if p, ok := given[arch]; ok {
		return p, nil
	}
	var candidates []string
	exe, exeErr := os.Executable()
	for _, name := range EcliNames(arch) {
		if exeErr == nil {
			candidates = append(candidates, filepath.Join(filepath.Dir(exe), name))
		}
	}
	for _, name := range EcliNames(arch) {
		if p, err := exec.LookPath(name); err == nil {
			candidates = append(candidates, p)
		}
	}
	var errs []error
	for _, c := range candidates {
		if _, err := os.Stat(c); err != nil {
			continue
		}
		err := checkStatic(c, "ecli", arch)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return "", &NoEcliError{Arch: arch, Errs: errs}
}

// findBusybox returns a static busybox for arch on PATH: busybox (Debian's
// busybox-static installs /bin/busybox) for this machine's architecture,
// busybox-ARCH for another.
func findBusybox(arch string) (string, error) {
	name := "busybox"
	if arch != packager.HostArch() {
		name = "busybox-" + arch
	}
	p, err := exec.LookPath(name)
	if err != nil {
		if name != "busybox" {
			return "", fmt.Errorf("%w (the %s VM needs a static %s busybox on PATH named %s)", ErrNoBusybox, arch, arch, name)
		}
		return "", ErrNoBusybox
	}
	if err := checkStatic(p, "busybox", arch); err != nil {
		return "", errors.Join(ErrNoBusybox, err)
	}
	return p, nil
}
