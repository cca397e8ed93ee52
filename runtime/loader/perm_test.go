package loader

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/runtime/attach"
)

func TestNeedsOf(t *testing.T) {
	ret := asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	writes := asm.Instructions{asm.FnProbeWriteUser.Call(), asm.Mov.Imm(asm.R0, 0), asm.Return()}
	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{
		"a_tp":      {Type: ebpf.TracePoint, Instructions: ret},
		"b_xdp":     {Type: ebpf.XDP, Instructions: ret},
		"c_tc":      {Type: ebpf.SchedCLS, Instructions: ret},
		"d_sock":    {Type: ebpf.SocketFilter, Instructions: ret},
		"e_write":   {Type: ebpf.Kprobe, Instructions: writes},
		"f_xdp2":    {Type: ebpf.XDP, Instructions: ret},
		"g_skipped": {Type: ebpf.SkMsg, Instructions: ret},
	}}
	plans := map[string]*attach.Plan{
		"a_tp": {Kind: attach.Tracepoint}, "b_xdp": {Kind: attach.XDP}, "c_tc": {Kind: attach.TC},
		"d_sock": {Kind: attach.SocketFilter}, "e_write": {Kind: attach.Kprobe}, "f_xdp2": {Kind: attach.XDP},
	}
	got := NeedsOf(spec, plans)
	want := []Need{{Why: "reads tracefs for its tracepoints", Cap: "CAP_DAC_READ_SEARCH"}, {Why: "attaches XDP", Cap: "CAP_NET_ADMIN"}, {Why: "attaches tc", Cap: "CAP_NET_ADMIN"},
		{Why: "opens a packet socket", Cap: "CAP_NET_RAW"}, {Why: "calls bpf_probe_write_user", Cap: "CAP_SYS_ADMIN"}}
	if !reflect.DeepEqual(got.Extra, want) {
		t.Errorf("NeedsOf = %+v\nwant %+v", got.Extra, want)
	}
	if n := NeedsOf(spec, map[string]*attach.Plan{"e_write": {Kind: attach.RawTracepoint}}); len(n.Extra) != 1 || n.Extra[0].Cap != "CAP_SYS_ADMIN" {
		t.Errorf("a raw tracepoint calling bpf_probe_write_user needs %+v", n.Extra)
	}
}

func TestPermission(t *testing.T) {
	saved := effectiveCaps
	t.Cleanup(func() { effectiveCaps = saved })
	set := func(caps ...int) {
		var eff uint64
		for _, c := range caps {
			eff |= 1 << c
		}
		effectiveCaps = func() (uint64, error) { return eff, nil }
	}
	xdp := Needs{Extra: []Need{{Why: "attaches XDP", Cap: "CAP_NET_ADMIN"}}}
	eperm := fmt.Errorf("map create: %w (MEMLOCK may be too low, consider rlimit.RemoveMemlock)", unix.EPERM)

	set() // no capability at all
	err := Permission("loading", eperm, xdp)
	var pe *PermissionError
	if !errors.Is(err, ErrPermission) || !errors.As(err, &pe) || !errors.Is(err, unix.EPERM) {
		t.Fatalf("Permission = %#v", err)
	}
	if want := "loading needs root or CAP_BPF and CAP_PERFMON (this package also attaches XDP: CAP_NET_ADMIN); this process lacks CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN"; err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	// EACCES (a tracefs file, perf_event_open) counts too.
	if err := Permission("attaching", fmt.Errorf("open: %w", unix.EACCES), Needs{}); err == nil ||
		err.Error() != "attaching needs root or CAP_BPF and CAP_PERFMON; this process lacks CAP_BPF and CAP_PERFMON" {
		t.Errorf("EACCES: %v", err)
	}

	set(unix.CAP_BPF, unix.CAP_PERFMON)
	if err := Permission("loading", eperm, xdp); err == nil || err.Error() != "loading needs root or CAP_BPF and CAP_PERFMON (this package also attaches XDP: CAP_NET_ADMIN); this process lacks CAP_NET_ADMIN" {
		t.Errorf("without CAP_NET_ADMIN: %v", err)
	}
	// With what the package needs, EPERM is something else (fentry under
	// lockdown, a memlock limit): left as it is.
	if err := Permission("loading", eperm, Needs{}); err != eperm {
		t.Errorf("with CAP_BPF and CAP_PERFMON: %v", err)
	}
	set(unix.CAP_SYS_ADMIN) // stands in for those of BPF, as in the kernel
	if err := Permission("loading", eperm, xdp); err != eperm {
		t.Errorf("with CAP_SYS_ADMIN: %v", err)
	}
	// but not for reading tracefs.
	tp := Needs{Extra: []Need{{Why: "reads tracefs for its tracepoints", Cap: "CAP_DAC_READ_SEARCH"}}}
	if err := Permission("attaching", fmt.Errorf("open: %w", unix.EACCES), tp); err == nil ||
		err.Error() != "attaching needs root or CAP_BPF and CAP_PERFMON (this package also reads tracefs for its tracepoints: CAP_DAC_READ_SEARCH); this process lacks CAP_DAC_READ_SEARCH" {
		t.Errorf("tracefs with CAP_SYS_ADMIN: %v", err)
	}
	set()
	other := errors.New("no such file")
	if Permission("loading", other, xdp) != other || Permission("loading", nil, xdp) != nil {
		t.Error("Permission changed an error that is no refusal")
	}
}
