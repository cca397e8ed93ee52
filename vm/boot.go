package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecc-bpf/ecc/internal/tailbuf"
	"github.com/ecc-bpf/ecc/internal/vmproto"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/vm/kernel"
	"github.com/ecc-bpf/ecc/vm/qemu"
)

// boot runs the package on one kernel. Its error is what stops the whole
// test (ctx done, qemu missing); what went wrong in the VM is the report's.
func boot(ctx context.Context, im *kernel.Image, initrd, dir string, pkg *packager.Package, o *Options) (*Report, error) {
	r := &Report{Kernel: im.Name, Release: im.Release(), Arch: im.Arch, Accel: qemu.Accel(im.Arch)}
	resultFile := filepath.Join(dir, "result")
	os.Remove(resultFile)
	console := &tailbuf.Buffer{Max: 32 << 10}
	var w io.Writer = console
	if o.Console != nil {
		w = io.MultiWriter(console, o.Console)
	}
	kctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	err := qemu.Run(kctx, &qemu.Config{
		Arch:     im.Arch,
		Binary:   o.Qemu,
		Kernel:   im.Path,
		Initrd:   initrd,
		Append:   cmdline(im.Arch, pkg, o.Append),
		MemoryMB: o.MemoryMB,
		Accel:    r.Accel,
		Console:  w,
		Result:   resultFile,
	})
	r.MS = time.Since(start).Milliseconds()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, qemu.ErrNoQemu):
		return nil, err
	case errors.Is(err, context.DeadlineExceeded):
		r.Error = fmt.Sprintf("no result within %s (--timeout)", o.Timeout)
		r.Log = console.Lines(20)
		return r, nil
	case err != nil:
		r.Error = err.Error()
		r.Log = console.Lines(20)
		return r, nil
	}
	out, _ := os.ReadFile(resultFile)
	res, err := vmproto.ParseResult(out)
	if err != nil {
		r.Error = err.Error() + " (the end of its console is in the log)"
		r.Log = console.Lines(20)
		return r, nil
	}
	r.fill(res)
	r.BootMS = r.MS - res.InitMS
	return r, nil
}

// fill copies the guest's result and decides whether the package passed:
// no error, every program attached (or not attached by a rule: a twin
// runs instead, or it is attached by hand), at least one attached, an
// event decoded when the package has event outputs, and a COMMAND that
// exited 0.
func (r *Report) fill(res *vmproto.Result) {
	if res.Release != "" {
		r.Release = res.Release
	}
	if res.Machine != "" {
		r.Arch = packager.KernelArch(res.Machine)
	}
	r.KernelBTF = res.KernelBTF
	r.Programs = res.Programs
	r.Events, r.Samples, r.MapRows, r.Printk = res.Events, res.Samples, res.MapRows, res.Printk
	r.Command = res.Command
	r.Log = res.Log
	r.Error = verdict(res)
	r.Passed = r.Error == ""
}

// verdict is why the run failed, or "".
func verdict(res *vmproto.Result) string {
	if res.Error != "" {
		return res.Error
	}
	attached := 0
	var bad []string
	for _, p := range res.Programs {
		switch p.State {
		case vmproto.Attached:
			attached++
		case vmproto.Twin, vmproto.Manual:
		default:
			bad = append(bad, p.Name+" "+p.State)
		}
	}
	switch {
	case len(bad) > 0:
		return "not every program runs: " + strings.Join(bad, ", ")
	case attached == 0:
		return "no program attached"
	case res.Command != nil && res.Command.Exit != 0:
		return fmt.Sprintf("COMMAND exited with status %d", res.Command.Exit)
	case res.EventOutputs > 0 && res.Events == 0:
		return "no event was decoded (the package has event outputs); does the activity trigger its programs? Pass a COMMAND after --"
	}
	return ""
}
