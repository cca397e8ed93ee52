// Package qemu boots a kernel and an initramfs in qemu for `ecc test`: no
// disk, no network device, the kernel's console on the first serial port
// (read through a pipe), the guest's result on a second one (a file),
// power-off ends qemu, and so does the context.
//
// x86_64 kernels boot in qemu-system-x86_64's q35 machine: the console is
// ttyS0, the result port ttyS1. arm64 kernels boot in
// qemu-system-aarch64's virt machine with -cpu max: the console is its
// pl011 UART, ttyAMA0, and the result port a PCI 16550 (pci-serial),
// ttyS0 to the guest (virt has one UART, and Debian builds virtio's
// console as a module; 8250_PCI is built in). internal/vmproto names the
// guest's side.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/internal/tailbuf"
)

// Config is one boot.
type Config struct {
	// Arch is the kernel's architecture, x86_64 (also "") or arm64; it
	// chooses the machine.
	Arch string
	// Binary is the qemu executable (default: the Arch's qemu-system-*
	// on PATH).
	Binary string
	// Kernel and Initrd are the kernel image and the initramfs.
	Kernel, Initrd string
	// Append is the kernel command line.
	Append string
	// MemoryMB is the guest's memory (default 512).
	MemoryMB int
	// CPUs is the number of virtual CPUs (default 1).
	CPUs int
	// Accel is "kvm" or "tcg"; "" picks KVM when /dev/kvm is usable and
	// the kernel is of this machine's architecture.
	Accel string
	// Console receives the first serial port (the kernel's console).
	Console io.Writer
	// Result is a file the second serial port is written to.
	Result string
}

// machine is how one architecture boots.
type machine struct {
	arch, goarch string
	// binary is qemu's executable, pkg Debian's package of it.
	binary, pkg string
	// console is the kernel's console device.
	console string
	// args are the machine's arguments for an accelerator; result those
	// that write the second serial port to a file.
	args   func(accel string) []string
	result func(file string) []string
}

var machines = []machine{
	{
		arch: "x86_64", goarch: "amd64", binary: "qemu-system-x86_64", pkg: "qemu-system-x86", console: "ttyS0",
		args: func(accel string) []string {
			return []string{"-machine", "q35,accel=" + accel, "-cpu", cpu(accel)}
		},
		result: func(file string) []string { return []string{"-serial", "file:" + file} },
	},
	{
		arch: "arm64", goarch: "arm64", binary: "qemu-system-aarch64", pkg: "qemu-system-arm", console: "ttyAMA0",
		args: func(accel string) []string {
			m := "virt,accel=" + accel
			if accel == "kvm" {
				m += ",gic-version=max"
			}
			return []string{"-machine", m, "-cpu", cpu(accel)}
		},
		result: func(file string) []string {
			return []string{"-chardev", "file,id=result,path=" + file, "-device", "pci-serial,chardev=result"}
		},
	},
}

// cpu is the CPU model: the host's under KVM, else every feature qemu
// emulates.
func cpu(accel string) string {
	if accel == "kvm" {
		return "host"
	}
	return "max"
}

// machineOf is the machine of arch ("" is x86_64).
func machineOf(arch string) (*machine, error) {
	if arch == "" {
		arch = "x86_64"
	}
	for i := range machines {
		if machines[i].arch == arch {
			return &machines[i], nil
		}
	}
	return nil, &UnsupportedError{Arch: arch}
}

// UnsupportedError is a kernel of an architecture ecc test cannot boot.
type UnsupportedError struct{ Arch string }

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("ecc test boots x86_64 and arm64 kernels, not %s", e.Arch)
}

// Supported says whether kernels of arch can boot (an *UnsupportedError
// when not).
func Supported(arch string) error {
	_, err := machineOf(arch)
	return err
}

// Console is the device of arch's kernel console, for console=.
func Console(arch string) string {
	if m, err := machineOf(arch); err == nil {
		return m.console
	}
	return "ttyS0"
}

// ErrNoQemu is wrapped when the qemu a kernel needs cannot be found.
var ErrNoQemu = errors.New("qemu is not installed")

// NoQemuError names the qemu missing and Debian's package of it.
type NoQemuError struct{ Binary, Package string }

func (e *NoQemuError) Error() string        { return e.Binary + " is not installed" }
func (e *NoQemuError) Is(target error) bool { return target == ErrNoQemu }

// Accel is the accelerator a boot of an arch kernel will use: kvm when
// the kernel is of this machine's architecture and /dev/kvm can be opened
// for reading and writing, else tcg (emulation, much slower).
func Accel(arch string) string {
	if m, err := machineOf(arch); err != nil || m.goarch != runtime.GOARCH {
		return "tcg"
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg"
	}
	f.Close()
	return "kvm"
}

// Args is qemu's command line for c (without the binary).
func (c *Config) Args() ([]string, error) {
	m, err := machineOf(c.Arch)
	if err != nil {
		return nil, err
	}
	mem, cpus, accel := c.MemoryMB, c.CPUs, c.Accel
	if mem == 0 {
		mem = 512
	}
	if cpus == 0 {
		cpus = 1
	}
	if accel == "" {
		accel = Accel(m.arch)
	}
	args := []string{"-nodefaults", "-no-user-config", "-nographic", "-no-reboot"}
	args = append(args, m.args(accel)...)
	args = append(args,
		"-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
		"-kernel", c.Kernel, "-initrd", c.Initrd, "-append", c.Append,
		"-serial", "stdio")
	args = append(args, m.result(c.Result)...)
	return append(args, "-monitor", "none"), nil
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
	args, err := c.Args()
	if err != nil {
		return err
	}
	bin := c.Binary
	if bin == "" {
		m, _ := machineOf(c.Arch)
		p, err := exec.LookPath(m.binary)
		if err != nil {
			return &NoQemuError{Binary: m.binary, Package: m.pkg}
		}
		bin = p
	}
	cmd := exec.Command(bin, args...)
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
