package attach

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// onlineCPUs is where attachPerfEvent reads the online CPUs; tests change it.
var onlineCPUs = "/sys/devices/system/cpu/online"

// parseCPUList parses a kernel CPU list such as "0-3,5,7-8".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty CPU list")
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// attachPerfEvent opens a software cpu-clock perf event sampling at
// p.Freq Hz on every online CPU and attaches the program to each, with a
// BPF perf link (5.15+) or, before that, PERF_EVENT_IOC_SET_BPF.
func attachPerfEvent(prog *ebpf.Program, p *Plan) (_ Link, err error) {
	data, err := os.ReadFile(onlineCPUs)
	if err != nil {
		return nil, fmt.Errorf("list online CPUs: %w", err)
	}
	cpus, err := parseCPUList(string(data))
	if err != nil {
		return nil, fmt.Errorf("list online CPUs: %s: %w", onlineCPUs, err)
	}
	freq := p.Freq
	if freq == 0 {
		freq = DefaultFreq
	}
	l := &links{}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	for _, cpu := range cpus {
		attr := unix.PerfEventAttr{
			Type:   unix.PERF_TYPE_SOFTWARE,
			Config: unix.PERF_COUNT_SW_CPU_CLOCK,
			Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
			Sample: freq,
			Bits:   unix.PerfBitFreq,
		}
		fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if errors.Is(err, unix.ENODEV) {
			continue // CPU went offline
		}
		if err != nil {
			return nil, fmt.Errorf("perf_event_open cpu-clock on CPU %d: %w", cpu, err)
		}
		l.fds = append(l.fds, fd)
		rl, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
		if err == nil {
			l.ls = append(l.ls, rl)
			continue
		}
		// Kernels before 5.15 have no perf links.
		if err2 := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err2 != nil {
			// The ioctl's failure is told, the link's decides (as
			// before perf links, it is what kernels refuse).
			return nil, fmt.Errorf("attach to the perf event on CPU %d: %w", cpu, &fallbackError{text: fmt.Sprintf("%v (ioctl: %v)", err, err2), err: err})
		}
		if err2 := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err2 != nil {
			return nil, fmt.Errorf("enable the perf event on CPU %d: %w", cpu, err2)
		}
	}
	if len(l.fds) == 0 {
		return nil, errors.New("no online CPU accepted a perf event")
	}
	l.desc = fmt.Sprintf("perf_event cpu-clock at %d Hz on %d CPUs", freq, len(l.fds))
	return l, nil
}
