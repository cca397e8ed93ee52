package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestArgs(t *testing.T) {
	c := &Config{Kernel: "/k", Initrd: "/i", Append: "console=ttyS0", Result: "/r", Accel: "tcg"}
	args := strings.Join(c.Args(), " ")
	for _, want := range []string{"-nographic", "-no-reboot", "-nodefaults", "-machine q35,accel=tcg -cpu max", "-m 512", "-smp 1",
		"-kernel /k -initrd /i -append console=ttyS0", "-serial stdio -serial file:/r", "-monitor none"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	c.Accel, c.MemoryMB, c.CPUs = "kvm", 1024, 2
	if args := c.Args(); !slices.Contains(args, "q35,accel=kvm") || !slices.Contains(args, "host") || !slices.Contains(args, "1024") || !slices.Contains(args, "2") {
		t.Errorf("kvm args: %v", args)
	}
	if a := Accel(); a != "kvm" && a != "tcg" {
		t.Errorf("Accel() = %q", a)
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
