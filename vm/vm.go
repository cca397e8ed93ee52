// Package vm is `ecc test`: it boots each kernel the user names in qemu
// with an initramfs whose init is a static ecli (runtime/vmguest), runs
// the package there while generating activity (or the user's COMMAND),
// and reports per kernel: the release, what became of each program, the
// events and map rows seen, and whether the package passed.
//
// This is the host side; it does not link the runtime, which runs in the
// guest. The two share internal/vmproto.
package vm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ecc-bpf/ecc/internal/vmproto"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/vm/initramfs"
	"github.com/ecc-bpf/ecc/vm/kernel"
	"github.com/ecc-bpf/ecc/vm/qemu"
)

// Options are ecc test's flags.
type Options struct {
	// Kernels are the kernels to boot: vmlinuz/bzImage files,
	// linux-image-*.deb packages or image references (kernel.Open).
	Kernels []string
	// Duration is how long the package runs with the default activity
	// (default 2s); with Command, the longest it runs.
	Duration time.Duration
	// Timeout bounds each kernel's whole run, boot included (default:
	// 3 minutes plus Duration).
	Timeout time.Duration
	// NoKernelBTF hides /sys/kernel/btf inside the VM.
	NoKernelBTF bool
	// Command replaces the default activity. A first word without a
	// slash is a busybox applet (busybox-static must be installed); a
	// path names a static program of this machine, copied into the VM
	// as /ecc-test/bin/BASENAME.
	Command []string
	// Ecli are static ecli programs to use as init, one per
	// architecture (read from each ELF). For a kernel architecture none
	// is given for, Test looks next to the running executable, then on
	// PATH, for the names EcliNames gives (ecli-arm64; ecli for this
	// machine's architecture).
	Ecli []string
	// Modules are kernel modules to load before the run (from the
	// kernel's package; with none asked, tc programs get sch_ingress and
	// cls_bpf when the package has them).
	Modules []string
	// Append is added to the kernel command line.
	Append string
	// MemoryMB is the guest's memory (default 512).
	MemoryMB int
	// Qemu is the qemu to run for every kernel ("" finds the kernel's
	// architecture's on PATH: qemu-system-x86_64, qemu-system-aarch64).
	Qemu string
	// CacheDir keeps kernels extracted from packages and images ("" is
	// os.UserCacheDir()/ecc/kernels).
	CacheDir string
	// Registry is for kernels given as image references (nil: the
	// defaults: credentials from the docker config, plain HTTP on
	// loopback).
	Registry *registry.Options
	// Console, when set, receives each kernel's serial console as it
	// boots and runs.
	Console io.Writer
	// Samples is how many events each report keeps (the first ones).
	Samples int
	// Progress, when set, is called before each kernel boots, with its
	// architecture and qemu's accelerator (kvm, tcg).
	Progress func(kernel, arch, accel string)
}

// Packages gives the package to run on kernels of an architecture (ecc's
// spelling: x86_64, arm64). Test asks once per architecture, before the
// first boot. A *NoArchError, or a package whose meta.arch is another,
// fails those kernels; another error stops the test.
type Packages func(ctx context.Context, arch string) (*packager.Package, error)

// One is Packages for a single package: it runs on kernels of its own
// architecture (any, without meta.arch).
func One(pkg *packager.Package) Packages {
	return func(context.Context, string) (*packager.Package, error) { return pkg, nil }
}

// NoArchError is a package without an object for a kernel's architecture.
type NoArchError struct {
	// Package names the package; Arch is the kernel's architecture, Has
	// the package's ("" when unknown).
	Package, Arch, Has string
}

func (e *NoArchError) Error() string {
	archs := e.Arch
	if e.Has != "" {
		archs = e.Has + "," + e.Arch
	}
	return fmt.Sprintf("package %s has no %s object; build with --arch %s", e.Package, e.Arch, archs)
}

// forArch is pkgs' package for arch, checked against its meta.arch.
func forArch(ctx context.Context, pkgs Packages, arch string) (*packager.Package, error) {
	pkg, err := pkgs(ctx, arch)
	var na *NoArchError
	switch {
	case errors.As(err, &na):
		return nil, na
	case err != nil:
		return nil, err
	}
	if a := pkg.Meta.Arch; a != "" && packager.KernelArch(a) != arch {
		return nil, &NoArchError{Package: strings.TrimSuffix(pkg.Meta.BpfSkel.ObjName, "_bpf"), Arch: arch, Has: packager.KernelArch(a)}
	}
	return pkg, nil
}

// Report is the outcome on one kernel.
type Report struct {
	// Kernel is the kernel as given; Release is uname -r inside; Arch
	// the kernel's architecture (x86_64, arm64), uname -m inside once it
	// booted.
	Kernel  string `json:"kernel"`
	Release string `json:"release"`
	Arch    string `json:"arch"`
	Passed  bool   `json:"passed"`
	// Accel is how qemu ran: kvm or tcg.
	Accel string `json:"accel"`
	// KernelBTF says whether /sys/kernel/btf/vmlinux was visible.
	KernelBTF bool              `json:"kernel_btf"`
	Programs  []vmproto.Program `json:"programs"`
	Events    int               `json:"events"`
	Samples   []json.RawMessage `json:"samples,omitempty"`
	MapRows   int               `json:"map_rows"`
	Printk    int               `json:"printk"`
	Command   *vmproto.Command  `json:"command,omitempty"`
	// BootMS is from qemu's start to the guest's init running; MS the
	// whole run of this kernel.
	BootMS int64 `json:"boot_ms"`
	MS     int64 `json:"ms"`
	// InitramfsBytes is the size of the initramfs booted (uncompressed).
	InitramfsBytes int64 `json:"initramfs_bytes"`
	// Error is why the package failed here, "" when it passed.
	Error string `json:"error"`
	// Log is the end of ecli's messages in the guest, and, when the
	// guest gave no result, the end of its console.
	Log []string `json:"log,omitempty"`
}

// ErrNoKernels is returned when Options.Kernels is empty.
var ErrNoKernels = errors.New("no kernel to boot")

// ErrFailed is wrapped by Test's error when the package failed on some
// kernel (the reports say why).
var ErrFailed = errors.New("the package failed")

// FailedError names the kernels a package failed on.
type FailedError struct{ Kernels []string }

func (e *FailedError) Error() string {
	return fmt.Sprintf("%v on %d of the kernels: %s", ErrFailed, len(e.Kernels), strings.Join(e.Kernels, ", "))
}
func (e *FailedError) Unwrap() error { return ErrFailed }

// Test runs the package pkgs gives for each kernel's architecture on
// every kernel, one after the other, and returns a report for each. The
// error is a *FailedError when the package failed on any of them (or has
// no object for one's architecture: that kernel is not booted), or what
// stopped the test before or between boots (a kernel file that is none,
// no static ecli, ctx done); reports of the kernels done so far are
// returned with it. The caller's Options are not modified.
func Test(ctx context.Context, pkgs Packages, opts *Options) ([]Report, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if len(o.Kernels) == 0 {
		return nil, ErrNoKernels
	}
	if o.Duration <= 0 {
		o.Duration = 2 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 3*time.Minute + o.Duration
	}
	if o.Samples < 0 {
		return nil, fmt.Errorf("samples %d: must not be negative", o.Samples)
	}
	given, err := eclis(o.Ecli)
	if err != nil {
		return nil, err
	}
	// Every kernel, the package of its architecture, its modules, ecli
	// and the COMMAND are checked before the first boot; what an
	// architecture needs is found once.
	type archFiles struct {
		pkg    *packager.Package
		noArch error
		files  []initramfs.File
		cmd    []string
	}
	type run struct {
		im      *kernel.Image
		arch    *archFiles
		modules []string
	}
	runs := make([]run, len(o.Kernels))
	byArch := map[string]*archFiles{}
	for i, k := range o.Kernels {
		im, err := kernel.Open(ctx, k, &kernel.OpenOptions{CacheDir: o.CacheDir, Registry: o.Registry})
		if err != nil {
			return nil, err
		}
		if err := qemu.Supported(im.Arch); err != nil {
			return nil, &kernel.Error{Name: k, Err: err}
		}
		af := byArch[im.Arch]
		if af == nil {
			af = &archFiles{}
			byArch[im.Arch] = af
			var na *NoArchError
			af.pkg, err = forArch(ctx, pkgs, im.Arch)
			switch {
			case errors.As(err, &na):
				af.noArch = na
			case err != nil:
				return nil, err
			default:
				if af.files, af.cmd, err = initramfsFiles(af.pkg, im.Arch, given, &o); err != nil {
					return nil, err
				}
			}
		}
		runs[i] = run{im: im, arch: af}
		if af.pkg != nil {
			if runs[i].modules, err = kernelModules(im, af.pkg, o.Modules); err != nil {
				return nil, err
			}
		}
	}
	dir, err := os.MkdirTemp("", "ecc-test-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var reports []Report
	var failed []string
	for _, rn := range runs {
		im, af := rn.im, rn.arch
		var r *Report
		if af.noArch != nil {
			r = &Report{Kernel: im.Name, Release: im.Release(), Arch: im.Arch, Error: af.noArch.Error()}
		} else {
			if o.Progress != nil {
				o.Progress(im.Name, im.Arch, qemu.Accel(im.Arch))
			}
			initrd := filepath.Join(dir, "initramfs.cpio")
			size, err := writeInitramfs(initrd, af.files, af.cmd, rn.modules, &o)
			if err != nil {
				return reports, err
			}
			if r, err = boot(ctx, im, initrd, dir, af.pkg, &o); err != nil {
				return reports, err
			}
			r.InitramfsBytes = size
		}
		reports = append(reports, *r)
		if !r.Passed {
			failed = append(failed, im.Name)
		}
	}
	if len(failed) > 0 {
		return reports, &FailedError{Kernels: failed}
	}
	return reports, nil
}

// initramfsFiles are the files every VM of arch gets: ecli as /init, the
// package, and what the COMMAND needs; and the COMMAND as the guest runs
// it (a busybox applet runs as /bin/busybox APPLET, a program of this
// machine from /ecc-test/bin).
func initramfsFiles(pkg *packager.Package, arch string, given map[string]string, o *Options) ([]initramfs.File, []string, error) {
	ecli, err := findEcli(arch, given)
	if err != nil {
		return nil, nil, err
	}
	pj, err := pkg.Marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("encode the package: %w", err)
	}
	files := []initramfs.File{
		{Name: vmproto.Init, Host: ecli, Mode: 0o755},
		{Name: vmproto.PackageFile, Data: pj},
	}
	cmd := o.Command
	if len(cmd) > 0 {
		if strings.Contains(cmd[0], "/") {
			abs, err := filepath.Abs(cmd[0])
			if err != nil {
				return nil, nil, err
			}
			if err := checkStatic(abs, "COMMAND", arch); err != nil {
				return nil, nil, err
			}
			// Not at its own path: the guest mounts tmpfs over /tmp and /run.
			guest := path.Join(vmproto.Dir, "bin", filepath.Base(abs))
			files = append(files, initramfs.File{Name: guest, Host: abs, Mode: 0o755})
			cmd = append([]string{guest}, cmd[1:]...)
		} else {
			bb, err := findBusybox(arch)
			if err != nil {
				return nil, nil, err
			}
			files = append(files, initramfs.File{Name: vmproto.Busybox, Host: bb, Mode: 0o755})
			cmd = append([]string{vmproto.Busybox}, cmd...)
		}
	}
	return files, cmd, nil
}

// writeInitramfs writes one kernel's initramfs: the files, its modules
// and the run's settings.
func writeInitramfs(out string, files []initramfs.File, cmd, modules []string, o *Options) (int64, error) {
	files = slices.Clone(files)
	var guestModules []string
	for _, m := range modules {
		g := path.Join(vmproto.ModulesDir, filepath.Base(m))
		files = append(files, initramfs.File{Name: g, Host: m})
		guestModules = append(guestModules, g)
	}
	cfg, _ := json.Marshal(&vmproto.Config{
		DurationMS:  o.Duration.Milliseconds(),
		Command:     cmd,
		NoKernelBTF: o.NoKernelBTF,
		Samples:     o.Samples,
		Modules:     guestModules,
	})
	files = append(files, initramfs.File{Name: vmproto.ConfigFile, Data: cfg})
	return initramfs.Write(out, files)
}

// tcModules are what tc programs need on kernels without tcx (< 6.6):
// the clsact qdisc and the BPF classifier.
var tcModules = []string{"sch_ingress", "cls_bpf"}

// kernelModules are the modules to load on im: those asked for, and
// those the package's programs need (tcModules for tc programs) when the
// kernel came from a package that has them.
func kernelModules(im *kernel.Image, pkg *packager.Package, asked []string) ([]string, error) {
	if len(asked) > 0 {
		return im.Modules(asked)
	}
	if !hasProgram(pkg, "tc", "classifier") || im.Package == "" {
		return nil, nil
	}
	mods, err := im.Modules(tcModules)
	if err != nil {
		// Built in, or not there: the attach says what is missing.
		return nil, nil
	}
	return mods, nil
}

// cmdline is the kernel command line: the console on the machine's first
// serial port, a panic ends the VM at once, few messages; the BPF LSM for
// packages with lsm programs (Debian enables it only when asked).
func cmdline(arch string, pkg *packager.Package, extra string) string {
	parts := []string{"console=" + qemu.Console(arch), "panic=-1", "quiet", "rdinit=" + vmproto.Init}
	if hasProgram(pkg, "lsm", "lsm.s") {
		parts = append(parts, "lsm=lockdown,capability,landlock,yama,apparmor,bpf")
	}
	if extra != "" {
		parts = append(parts, extra)
	}
	return strings.Join(parts, " ")
}

// hasProgram reports whether the package has a program in a section of
// one of the kinds (the part of SEC() before the first "/").
func hasProgram(pkg *packager.Package, kinds ...string) bool {
	for _, p := range pkg.Meta.BpfSkel.Progs {
		kind, _, _ := strings.Cut(strings.TrimPrefix(p.Attach, "?"), "/")
		if slices.Contains(kinds, kind) {
			return true
		}
	}
	return false
}
