package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestArgs(t *testing.T) {
	c := &Config{Kernel: "/k", Initrd: "/i", Append: "console=ttyS0", Result: "/r", Accel: "tcg"}
	a, err := c.Args()
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(a, " ")
	for _, want := range []string{"-nographic", "-no-reboot", "-nodefaults", "-machine q35,accel=tcg -cpu max", "-m 512", "-smp 1",
		"-kernel /k -initrd /i -append console=ttyS0", "-serial stdio -serial file:/r", "-monitor none"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	c.Accel, c.MemoryMB, c.CPUs = "kvm", 1024, 2
	if args, _ := c.Args(); !slices.Contains(args, "q35,accel=kvm") || !slices.Contains(args, "host") || !slices.Contains(args, "1024") || !slices.Contains(args, "2") {
		t.Errorf("kvm args: %v", args)
	}
	if a := Accel("x86_64"); a != "kvm" && a != "tcg" {
		t.Errorf("Accel() = %q", a)
	}
}

// An arm64 kernel boots in qemu-system-aarch64's virt machine with -cpu
// max, its console on the pl011 (ttyAMA0) and the result on a PCI serial
// port; KVM only on an arm64 host.
func TestArgsArm64(t *testing.T) {
	c := &Config{Arch: "arm64", Kernel: "/Image", Initrd: "/i", Append: "console=ttyAMA0", Result: "/r", Accel: "tcg"}
	a, err := c.Args()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-machine", "virt,accel=tcg", "-cpu", "max", "-m", "512", "-smp", "1",
		"-kernel", "/Image", "-initrd", "/i", "-append", "console=ttyAMA0",
		"-serial", "stdio", "-chardev", "file,id=result,path=/r", "-device", "pci-serial,chardev=result",
		"-monitor", "none"}
	if !slices.Equal(a, want) {
		t.Errorf("args\n%v\nwant\n%v", a, want)
	}
	c.Accel = "kvm"
	if a, _ := c.Args(); !slices.Contains(a, "virt,accel=kvm,gic-version=max") || !slices.Contains(a, "host") {
		t.Errorf("kvm args: %v", a)
	}
	if Console("arm64") != "ttyAMA0" || Console("x86_64") != "ttyS0" {
		t.Errorf("consoles %q %q", Console("arm64"), Console("x86_64"))
	}
	if runtime.GOARCH != "arm64" && Accel("arm64") != "tcg" {
		t.Errorf("an arm64 kernel on %s runs under %s", runtime.GOARCH, Accel("arm64"))
	}
	// qemu-system-aarch64 is looked for, and named when missing.
	t.Setenv("PATH", t.TempDir())
	c.Accel = "tcg"
	var nq *NoQemuError
	if err := Run(context.Background(), c); !errors.Is(err, ErrNoQemu) || !errors.As(err, &nq) ||
		err.Error() != "qemu-system-aarch64 is not installed" || nq.Package != "qemu-system-arm" {
		t.Errorf("without qemu: %v", err)
	}
	var ue *UnsupportedError
	if err := Run(context.Background(), &Config{Arch: "riscv64"}); !errors.As(err, &ue) || Supported("riscv64") == nil || Supported("arm64") != nil {
		t.Errorf("riscv64: %v", err)
	}
}

// fakeQemu is a script standing in for qemu.
func fakeQemu(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "qemu")
	os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755)
	return p
}

// Cancelling the context kills qemu at once.
func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Run(ctx, &Config{Binary: fakeQemu(t, "exec sleep 60"), Accel: "tcg"})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Errorf("after %s: %v", time.Since(start), err)
	}
}

func TestRunOutputAndFailure(t *testing.T) {
	var console strings.Builder
	if err := Run(context.Background(), &Config{Binary: fakeQemu(t, "echo booted"), Accel: "tcg", Console: &console}); err != nil || console.String() != "booted\n" {
		t.Errorf("console %q, %v", console.String(), err)
	}
	err := Run(context.Background(), &Config{Binary: fakeQemu(t, "echo 'qemu: could not load kernel' >&2; exit 1"), Accel: "tcg"})
	var qe *Error
	if !errors.As(err, &qe) || !strings.Contains(err.Error(), "could not load kernel") {
		t.Errorf("error %v", err)
	}
}
