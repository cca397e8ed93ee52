// Package vmguest is ecli's init mode inside an `ecc test` VM: as PID 1 of
// the initramfs that package vm builds, it mounts what BPF programs need,
// runs the package with ecli's runtime while it generates activity (or
// runs the user's COMMAND), writes a vmproto.Result on the result serial
// port (vmproto.ResultDevice) and powers the machine off.
package vmguest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/internal/tailbuf"
	"github.com/ecc-bpf/ecc/internal/vmproto"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/runtime"
	"github.com/ecc-bpf/ecc/runtime/attach"
)

// Main runs the test and powers off; it returns only when it is not PID 1
// (or the power-off failed), with the error that stopped it.
func Main() error {
	if os.Getpid() != 1 {
		return errors.New("ecli runs as init only in an 'ecc test' VM")
	}
	start := time.Now()
	var res *vmproto.Result
	if os.Getenv(mountedEnv) == "" {
		// cilium/ebpf reads /proc/self/mountinfo once, in a package's
		// init (rlimit), before anything could be mounted: mount, then
		// start again as the same PID 1.
		res = mount()
		if res == nil {
			err := unix.Exec(vmproto.Init, []string{vmproto.Init}, append(os.Environ(), mountedEnv+"=1"))
			res = &vmproto.Result{Error: fmt.Sprintf("exec %s: %v", vmproto.Init, err)}
		}
	} else {
		res = run()
	}
	res.InitMS = time.Since(start).Milliseconds()
	if f, err := os.OpenFile(vmproto.ResultDevice(goruntime.GOARCH), os.O_WRONLY, 0); err == nil {
		f.Write(res.Marshal())
		f.Sync()
		f.Close()
	} else {
		fmt.Fprintf(os.Stderr, "ecli vm-init: %v\n", err)
	}
	unix.Sync()
	return unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

// mountedEnv is set when init starts again after mounting.
const mountedEnv = "ECC_VM_MOUNTED"

// mount mounts what the run needs; a result only when that failed.
func mount() *vmproto.Result {
	res := newResult()
	cfg, err := readConfig()
	if err == nil {
		err = mountAll(cfg.NoKernelBTF)
	}
	if err != nil {
		res.Error = err.Error()
		return res
	}
	return nil
}

func newResult() *vmproto.Result {
	res := &vmproto.Result{}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		res.Release = unix.ByteSliceToString(uts.Release[:])
		res.Machine = unix.ByteSliceToString(uts.Machine[:])
	}
	return res
}

func readConfig() (*vmproto.Config, error) {
	data, err := os.ReadFile(vmproto.ConfigFile)
	if err != nil {
		return nil, err
	}
	var cfg vmproto.Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", vmproto.ConfigFile, err)
	}
	return &cfg, nil
}

// run does everything but reporting; failures end up in Result.Error.
func run() *vmproto.Result {
	res := newResult()
	fail := func(err error) *vmproto.Result {
		res.Error = err.Error()
		return res
	}
	cfg, err := readConfig()
	if err != nil {
		return fail(err)
	}
	for _, m := range cfg.Modules {
		if err := loadModule(m); err != nil {
			return fail(err)
		}
	}
	_, err = os.Stat("/sys/kernel/btf/vmlinux")
	res.KernelBTF = err == nil
	if err := loopbackUp(); err != nil {
		return fail(err)
	}
	pkg, err := packager.ReadFile(vmproto.PackageFile)
	if err != nil {
		return fail(err)
	}
	if spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(pkg.Object)); err == nil {
		for _, m := range spec.Maps {
			if m.Type == ebpf.RingBuf || m.Type == ebpf.PerfEventArray {
				res.EventOutputs++
			}
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &counter{res: res, samples: cfg.Samples}
	log := &tailbuf.Buffer{Max: 32 << 10}
	ready := make(chan struct{})
	var wg sync.WaitGroup
	o := &runtime.Options{
		JSON:     true,
		Duration: time.Duration(cfg.DurationMS) * time.Millisecond,
		Stdout:   out,
		Stderr:   io.MultiWriter(os.Stderr, log),
		// The VM is the test's own: network and cgroup programs attach
		// to its loopback and its root cgroup.
		Attach: attach.Options{IfName: "lo", Cgroup: "/sys/fs/cgroup"},
		Ready:  func() { close(ready) },
		Programs: func(ps []runtime.ProgramState) {
			for _, p := range ps {
				res.Programs = append(res.Programs, program(p))
			}
		},
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ready:
		case <-ctx.Done():
			return
		}
		if len(cfg.Command) > 0 {
			res.Command = command(ctx, cfg.Command)
			time.Sleep(200 * time.Millisecond) // let the last events arrive
			cancel()
			return
		}
		activity(ctx)
	}()
	runErr := runtime.Run(ctx, vmproto.PackageFile, pkg, nil, o)
	cancel()
	wg.Wait()
	out.flush()
	res.Log = log.Lines(30)
	if runErr != nil {
		res.Error = runErr.Error()
	}
	return res
}

// program is a runtime.ProgramState as reported.
func program(p runtime.ProgramState) vmproto.Program {
	vp := vmproto.Program{Name: p.Name, Section: p.Section, State: p.State, Reason: p.Reason}
	if p.Err != nil {
		vp.Error = p.Err.Error()
		var ve *ebpf.VerifierError
		if errors.As(p.Err, &ve) {
			log := ve.Log
			if len(log) > 20 {
				log = log[len(log)-20:]
			}
			vp.VerifierLog = log
		}
	}
	return vp
}

// mountAll mounts the pseudo file systems; with noBTF an empty tmpfs
// covers /sys/kernel/btf.
func mountAll(noBTF bool) error {
	mounts := []struct{ fstype, dir string }{
		{"proc", "/proc"},
		{"sysfs", "/sys"},
		{"devtmpfs", "/dev"},
		{"tmpfs", "/tmp"},
		{"tmpfs", "/run"},
		{"cgroup2", "/sys/fs/cgroup"},
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.fstype, m.dir, m.fstype, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount -t %s %s: %w", m.fstype, m.dir, err)
		}
	}
	if err := attach.EnsureFS(); err != nil {
		fmt.Fprintf(os.Stderr, "ecli vm-init: %v\n", err)
	}
	if noBTF {
		if err := unix.Mount("tmpfs", "/sys/kernel/btf", "tmpfs", unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("hide /sys/kernel/btf: %w", err)
		}
	}
	return nil
}

// loadModule loads a kernel module file (finit_module); one already
// loaded is fine.
func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load module %s: %w", path, err)
	}
	return nil
}

// loopbackUp brings lo up, for the TCP connects and network programs.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

// counter counts the JSON lines ecli prints and keeps the first events.
type counter struct {
	mu      sync.Mutex
	res     *vmproto.Result
	samples int
	partial []byte
}

func (c *counter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(c.partial[:i])
		c.partial = c.partial[i+1:]
	}
	return len(p), nil
}

func (c *counter) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(bytes.TrimSpace(c.partial)) > 0 {
		c.line(c.partial)
	}
	c.partial = nil
}

// line classifies one line of ecli's JSON output (docs/guide.md, Output).
func (c *counter) line(l []byte) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(l, &obj) != nil {
		return
	}
	switch {
	case obj["printk"] != nil:
		c.res.Printk++
	case obj["entries"] != nil:
		var ents []json.RawMessage
		json.Unmarshal(obj["entries"], &ents)
		c.res.MapRows += len(ents)
	case obj["globals"] != nil:
		var g map[string]json.RawMessage
		json.Unmarshal(obj["globals"], &g)
		c.res.MapRows += len(g)
	case obj["map"] != nil || obj["global"] != nil:
		c.res.MapRows++
	default:
		c.res.Events++
		if len(c.res.Samples) < c.samples {
			c.res.Samples = append(c.res.Samples, json.RawMessage(bytes.Clone(l)))
		}
	}
}

// trim keeps the end of s, at most n bytes.
func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
