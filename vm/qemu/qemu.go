// Package qemu boots a kernel and an initramfs in qemu-system-x86_64 for
// `ecc test`: no disk, no network device, the kernel's console on the
// first serial port (read through a pipe), the guest's result on the
// second (a file), power-off ends qemu, and so does the context.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/internal/tailbuf"
)

// Config is one boot.
type Config struct {
	// Binary is the qemu executable (default qemu-system-x86_64 on PATH).
	Binary string
	// Kernel and Initrd are the bzImage and the initramfs.
	Kernel, Initrd string
	// Append is the kernel command line.
	Append string
	// MemoryMB is the guest's memory (default 512).
	MemoryMB int
	// CPUs is the number of virtual CPUs (default 1).
	CPUs int
	// Accel is "kvm" or "tcg"; "" picks KVM when /dev/kvm is usable.
	Accel string
	// Console receives the first serial port (the kernel's console).
	Console io.Writer
	// Result is a file the second serial port is written to.
	Result string
}

// ErrNoQemu is wrapped when qemu-system-x86_64 cannot be found.
var ErrNoQemu = errors.New("qemu-system-x86_64 is not installed")

// Accel is the accelerator a boot will use: kvm when /dev/kvm can be
// opened for reading and writing, else tcg (emulation, much slower).
func Accel() string {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg"
	}
	f.Close()
	return "kvm"
}

// Args is qemu's command line for c (without the binary).
func (c *Config) Args() []string {
	mem, cpus, accel := c.MemoryMB, c.CPUs, c.Accel
	if mem == 0 {
		mem = 512
	}
	if cpus == 0 {
		cpus = 1
	}
	if accel == "" {
		accel = Accel()
	}
	cpu := "max"
	if accel == "kvm" {
		cpu = "host"
	}
	return []string{
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-machine", "q35,accel=" + accel, "-cpu", cpu,
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-kernel", c.Kernel, "-initrd", c.Initrd, "-append", c.Append,
		"-serial", "stdio", "-serial", "file:" + c.Result,
		"-monitor", "none",
	}
}

// Error is a qemu that failed: its exit status and the end of what it
// printed on stderr.
type Error struct {
	Err    error
	Stderr string
}

func (e *Error) Error() string {
	if e.Stderr != "" {
		return fmt.Sprintf("qemu: %v: %s", e.Err, e.Stderr)
	}
	return fmt.Sprintf("qemu: %v", e.Err)
}
func (e *Error) Unwrap() error { return e.Err }

// Run boots the machine and waits until it powers off, or until ctx is
// done, which kills qemu (the error is then ctx's).
func Run(ctx context.Context, c *Config) error {
	bin := c.Binary
	if bin == "" {
		p, err := exec.LookPath("qemu-system-x86_64")
		if err != nil {
			return ErrNoQemu
		}
		bin = p
	}
	cmd := exec.Command(bin, c.Args()...)
	cmd.Stdout = c.Console
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	stderr := &tailbuf.Buffer{Max: 4096}
	cmd.Stderr = stderr
	// Its own process group, so a Ctrl-C meant for ecc reaches qemu
	// only through ctx (and the console stays as it was).
	cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true, Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		return &Error{Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return &Error{Err: err, Stderr: stderr.String()}
		}
		return nil
	case <-ctx.Done():
		cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		return ctx.Err()
	}
}
