package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/source"
	"github.com/ecc-bpf/ecc/vm"
	"github.com/ecc-bpf/ecc/vm/kernel"
	"github.com/ecc-bpf/ecc/vm/qemu"
)

func testCommand() *cli.Command {
	return &cli.Command{
		Name:      "test",
		Usage:     "run a package on other kernels, each booted in qemu, and report what attached and fired",
		ArgsUsage: "PACKAGE [-- COMMAND...]",
		Description: `Each --kernel K boots in qemu (KVM when /dev/kvm is usable, else
emulation: 3-8 s to boot, 7-11 s per kernel with -d 2s) with a small
initramfs whose init is a static ecli. K is a vmlinuz file, a Debian or
Ubuntu linux-image-*.deb (its boot/vmlinuz-* is extracted once into
~/.cache/ecc/kernels), or a registry image in cilium/ci-kernels' layout
(/boot/vmlinuz in a layer, e.g. ghcr.io/cilium/ci-kernels:6.1). The image
chooses the machine: an x86 bzImage boots in qemu-system-x86_64, an arm64
Image (plain or gzip-compressed) in qemu-system-aarch64 -M virt -cpu max
(7-11 s to boot under emulation). It runs PACKAGE (a build folder,
package.json, .bpf.o, URL or REF, as for 'ecli run') for -d while exec, file
and TCP activity goes on, or runs COMMAND instead and stops when it exits:
a first word without a slash is a busybox applet (busybox-static must be
installed), a path is a static program of this machine. xdp/tc programs
attach to the VM's lo (tc on kernels before 6.6 with sch_ingress and
cls_bpf loaded from the kernel's package), cgroup programs to its root
cgroup.

Each kernel runs the package's object for its architecture: a build folder
of 'ecc build --arch x86_64,arm64' has both (DIR/ARCH/package.json), a REF
of an index has a manifest per platform. A package without one fails that
kernel, unbooted, saying so.

A kernel passes when every program attached (or a twin of it did, or it is
attached by hand), and, if the package has ring buffers or perf event
arrays, at least one event was decoded. The exit status is 1 when any
kernel fails. --format json prints an array with one object per kernel:
kernel, release, arch, passed, programs [{name, section, state, reason,
error, verifier_log}], events, samples, map_rows, boot_ms, ms, error (see
docs/output.md).

The static ecli of each kernel's architecture is a --ecli PATH built for it
(repeatable), else ecli-ARCH (ecli-arm64) or, for this machine's
architecture, ecli, next to ecc or on PATH. Build them with 'make build'
('CGO_ENABLED=0 go build ./cmd/ecli') and 'make ecli-arm64'
('CGO_ENABLED=0 GOARCH=arm64 go build -o bin/ecli-arm64 ./cmd/ecli').

Examples:
   ecc test --kernel linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb build/
   ecc test --kernel /boot/vmlinuz-6.1.0-57-cloud-amd64 --format json -d 5s examples/execsnoop/
   ecc test --kernel k1.deb --kernel ghcr.io/cilium/ci-kernels:6.6 --no-kernel-btf build/
   ecc test --kernel k.deb build/ -- ls -l /proc/self   # busybox applet as the activity
   ecc test --kernel k.deb -v build/                    # show the VM's console
   ecc build --arch x86_64,arm64 -o build/ probe.bpf.c  # then, with bin/ecli-arm64 next to ecc:
   ecc test --kernel k-amd64.deb --kernel linux-image-6.1.0-57-cloud-arm64_6.1.192-3_arm64.deb build/
   ecc test --kernel Image.gz --ecli bin/ecli-arm64 ghcr.io/org/probe:v1   # an arm64 kernel, the index's arm64 object`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "kernel", Aliases: []string{"k"}, Usage: "`K`: a vmlinuz file (x86 bzImage or arm64 Image), a linux-image-*.deb or an image REF (cilium/ci-kernels layout); repeatable"},
			&cli.StringFlag{Name: "duration", Aliases: []string{"d"}, Value: "2s", Usage: "run the package for `TIME` in each VM (with COMMAND: at most)"},
			commands.FormatFlag(),
			&cli.DurationFlag{Name: "timeout", Usage: "give up on a kernel after `TIME`, boot included (default 3m plus -d)"},
			&cli.BoolFlag{Name: "no-kernel-btf", Usage: "hide /sys/kernel/btf inside the VM, as on a kernel built without BTF"},
			&cli.StringSliceFlag{Name: "ecli", Usage: "a statically linked ecli `PATH` to boot as init, for the architecture it is built for; repeatable (one per architecture)"},
			&cli.StringSliceFlag{Name: "module", Usage: "load kernel module `NAME` (and what it depends on) from each --kernel package before the run; repeatable (tc programs get sch_ingress and cls_bpf without it)"},
			&cli.StringFlag{Name: "append", Usage: "add `ARGS` to the kernel command line"},
			&cli.IntFlag{Name: "memory", Value: 512, Usage: "guest memory in `MiB`"},
			&cli.IntFlag{Name: "samples", Value: 3, Usage: "keep the first `N` events of each kernel in the report"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "copy each VM's serial console to stderr"},
		}, commands.PolicyFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return commands.Usagef(c, "expects a PACKAGE (e.g. 'ecc test --kernel linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb build/')")
			}
			kernels := c.StringSlice("kernel")
			if len(kernels) == 0 {
				return commands.Usagef(c, "expects at least one --kernel K: a vmlinuz file, a linux-image-*.deb (the dependency of linux-image-cloud-amd64: apt-get download it) or a kernel image REF")
			}
			dur, err := commands.ParseDuration("duration", c.String("duration"))
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			policy, err := commands.Policy(c)
			if err != nil {
				return err
			}
			pkgs := vm.Source(c.Args().First(), &source.OpenOptions{Stdin: os.Stdin, Progress: commands.Progress(), Policy: policy})
			command := c.Args().Tail()
			if len(command) > 0 && command[0] == "--" {
				command = command[1:]
			}
			o := &vm.Options{
				Kernels:     kernels,
				Duration:    dur,
				Timeout:     c.Duration("timeout"),
				NoKernelBTF: c.Bool("no-kernel-btf"),
				Command:     command,
				Ecli:        c.StringSlice("ecli"),
				Modules:     c.StringSlice("module"),
				Append:      c.String("append"),
				MemoryMB:    c.Int("memory"),
				Samples:     c.Int("samples"),
				Progress: func(k, arch, accel string) {
					fmt.Fprintf(os.Stderr, "ecc: booting %s (%s, %s)\n", k, arch, accel)
				},
			}
			if c.Bool("verbose") {
				o.Console = os.Stderr
			}
			reports, err := vm.Test(ctx, pkgs, o)
			if len(reports) > 0 {
				werr := commands.Print(c, reports, func(w io.Writer) error { return vm.WriteText(w, reports) })
				if err == nil {
					err = werr
				}
			}
			return testAdvice(err)
		},
	}
}

// testAdvice adds what to do about the errors ecc test stops with.
func testAdvice(err error) error {
	var ns *vm.NotStaticError
	var ne *vm.NoEcliError
	var nq *qemu.NoQemuError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ne) && ne.Arch != packager.HostArch():
		return &commands.Advice{Err: err, Hint: fmt.Sprintf("build one with 'CGO_ENABLED=0 GOARCH=%s go build -o bin/ecli-%s ./cmd/ecli' (make ecli-%[2]s does) and pass --ecli bin/ecli-%[2]s, or put it next to ecc", packager.OCIArch(ne.Arch), ne.Arch)}
	case errors.Is(err, vm.ErrNoEcli):
		return &commands.Advice{Err: err, Hint: "build one with 'CGO_ENABLED=0 go build -o bin/ecli ./cmd/ecli' (make build does) and pass --ecli bin/ecli"}
	case errors.As(err, &ns) && ns.Role == "COMMAND":
		return &commands.Advice{Err: err, Hint: "pass a statically linked program, or a busybox applet by name (apt-get install busybox-static)"}
	case errors.As(err, &ns):
		return &commands.Advice{Err: err, Hint: "rebuild it with CGO_ENABLED=0"}
	case errors.Is(err, vm.ErrNoBusybox):
		return &commands.Advice{Err: err, Hint: "apt-get install busybox-static, or give COMMAND as a path to a static program"}
	case errors.As(err, &nq):
		return &commands.Advice{Err: err, Hint: "apt-get install --no-install-recommends " + nq.Package}
	case errors.Is(err, kernel.ErrNotKernel):
		return &commands.Advice{Err: err, Hint: "--kernel takes a vmlinuz/bzImage file, a linux-image-*.deb (not the linux-image-cloud-amd64 meta package) or a kernel image REF"}
	case errors.Is(err, vm.ErrFailed):
		// The reports say why; the status is 1.
		return cli.Exit("", 1)
	}
	return err
}
