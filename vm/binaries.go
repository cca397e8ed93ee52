package vm

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// NotStaticError is a program the VM cannot run: the initramfs has no
// shared libraries, so everything in it must be statically linked.
type NotStaticError struct {
	Path string
	// What the file was wanted for ("ecli", "COMMAND", "busybox").
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

// ErrNoBusybox is wrapped when a COMMAND needs busybox and none is found.
var ErrNoBusybox = errors.New("COMMAND names no file: it runs as a busybox applet, and no statically linked busybox is installed")

// checkStatic reports whether path is an x86-64 ELF executable without an
// interpreter.
func checkStatic(path, role string) error {
	f, err := elf.Open(path)
	if err != nil {
		return &NotStaticError{Path: path, Role: role, Err: fmt.Errorf("not an ELF executable: %w", err)}
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return &NotStaticError{Path: path, Role: role, Err: fmt.Errorf("built for %s; the VM is x86_64", f.Machine)}
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return &NotStaticError{Path: path, Role: role}
		}
	}
	return nil
}

// findEcli returns the static ecli to use: explicit, else an ecli next to
// the running executable (bin/ecc beside bin/ecli), else one on PATH.
func findEcli(explicit string) (string, error) {
	if explicit != "" {
		if err := checkStatic(explicit, "--ecli"); err != nil {
			return "", err
		}
		return explicit, nil
	}
	var candidates []string
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "ecli"))
	}
	if p, err := exec.LookPath("ecli"); err == nil {
		candidates = append(candidates, p)
	}
	var errs []error
	for _, c := range candidates {
		if _, err := os.Stat(c); err != nil {
			continue
		}
		err := checkStatic(c, "ecli")
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(append([]error{ErrNoEcli}, errs...)...)
}

// findBusybox returns a static busybox on PATH (Debian's busybox-static
// installs /bin/busybox).
func findBusybox() (string, error) {
	p, err := exec.LookPath("busybox")
	if err != nil {
		return "", ErrNoBusybox
	}
	if err := checkStatic(p, "busybox"); err != nil {
		return "", errors.Join(ErrNoBusybox, err)
	}
	return p, nil
}
