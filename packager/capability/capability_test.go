package capability

import (
	"reflect"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ecc-bpf/ecc/packager/section"
)

func TestOf(t *testing.T) {
	ret := asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}
	writes := asm.Instructions{asm.FnProbeWriteUser.Call(), asm.Mov.Imm(asm.R0, 0), asm.Return()}
	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{
		"a_tp":      {Type: ebpf.TracePoint, SectionName: "tp/sched/sched_process_exec", Instructions: ret},
		"b_xdp":     {Type: ebpf.XDP, SectionName: "xdp", Instructions: ret},
		"c_tc":      {Type: ebpf.SchedCLS, SectionName: "tc", Instructions: ret},
		"d_sock":    {Type: ebpf.SocketFilter, SectionName: "socket", Instructions: ret},
		"e_write":   {Type: ebpf.Kprobe, SectionName: "kprobe/do_sys_openat2", Instructions: writes},
		"f_uprobe":  {Type: ebpf.Kprobe, SectionName: "uretprobe//bin/bash:readline", Instructions: ret},
		"g_skipped": {Type: ebpf.SkMsg, SectionName: "sk_msg", Instructions: ret},
	}}
	kinds := map[string]section.Kind{}
	for name, ps := range spec.Programs {
		if name != "g_skipped" {
			kinds[name] = KindOf(ps)
		}
	}
	if kinds["f_uprobe"] != section.Uretprobe || kinds["a_tp"] != section.Tracepoint {
		t.Errorf("KindOf: %v", kinds)
	}
	got := Of(spec, kinds)
	want := []Need{{"reads tracefs for its tracepoints", "CAP_DAC_READ_SEARCH"}, {"attaches XDP", "CAP_NET_ADMIN"}, {"attaches tc", "CAP_NET_ADMIN"},
		{"opens a packet socket", "CAP_NET_RAW"}, {"calls bpf_probe_write_user", "CAP_SYS_ADMIN"}, {"attaches uprobes through perf's uprobe PMU", "CAP_SYS_ADMIN"}}
	if !reflect.DeepEqual(got.Extra, want) {
		t.Errorf("Of = %+v\nwant %+v", got.Extra, want)
	}
	if caps := got.Caps(); !reflect.DeepEqual(caps, []string{"CAP_DAC_READ_SEARCH", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_ADMIN"}) {
		t.Errorf("Caps = %v", caps)
	}
	if !got.Has("CAP_NET_RAW") || got.Has("CAP_BPF") {
		t.Errorf("Has: wrong for %v", got.Caps())
	}
	// A program in an unknown section takes its kind from its type.
	if k := KindOf(&ebpf.ProgramSpec{Type: ebpf.XDP, SectionName: "my_xdp"}); k != section.XDP {
		t.Errorf("KindOf(untyped xdp section) = %v", k)
	}
	if k := KindOf(&ebpf.ProgramSpec{SectionName: ".xdp"}); k != section.XDP {
		t.Errorf("KindOf(.xdp) = %v", k)
	}
}
