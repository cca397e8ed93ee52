package packager

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// checkSpecObject is an object as cilium/ebpf reads it: two programs, a
// ring buffer and the data sections libbpf names PREFIX.SECTION.
func checkSpecObject() *ebpf.CollectionSpec {
	return &ebpf.CollectionSpec{
		Programs: map[string]*ebpf.ProgramSpec{
			"handle_exec": {Name: "handle_exec", SectionName: "tp/sched/sched_process_exec"},
			"handle_exit": {Name: "handle_exit", SectionName: "tp/sched/sched_process_exit"},
		},
		Maps: map[string]*ebpf.MapSpec{
			"rb":                   {Name: "rb"},
			".rodata":              {Name: ".rodata"},
			".bss":                 {Name: ".bss"},
			".rodata.str1.1":       {Name: ".rodata.str1.1"},
			".data.a_long_section": {Name: ".data.a_long_section"},
		},
	}
}

func checkSpecMeta() *Meta {
	return &Meta{BpfSkel: Skeleton{
		ObjName: "execsnoop_bpf",
		Progs: []Prog{
			{Name: "handle_exec", Attach: "tp/sched/sched_process_exec"},
			{Name: "handle_exit", Attach: "tp/sched/sched_process_exit"},
		},
		Maps: []Map{
			{Name: "rb", Ident: "rb"},
			{Name: "execsnoo.rodata", Ident: "rodata"},
			{Name: "execsnoo.bss", Ident: "bss"},
			{Name: "execsnoo.rodata.str1.1", Ident: "rodata_str1_1"}, // ecc's spelling
			{Name: ".rodata.str1.1", Ident: "rodata_str1_1"},         // libbpf's
			{Name: ".data.a_long_se", Ident: "data_a_long_section"},  // libbpf's, truncated to 15
		},
	}}
}

func TestCheckSpecAgrees(t *testing.T) {
	if err := CheckSpec(checkSpecMeta(), checkSpecObject()); err != nil {
		t.Fatal(err)
	}
	// eunomia packages may omit progs and maps.
	m := checkSpecMeta()
	m.BpfSkel.Progs, m.BpfSkel.Maps = nil, nil
	if err := CheckSpec(m, checkSpecObject()); err != nil {
		t.Errorf("without progs and maps: %v", err)
	}
	// The object may have maps the metadata does not list.
	m = checkSpecMeta()
	m.BpfSkel.Maps = m.BpfSkel.Maps[:1]
	if err := CheckSpec(m, checkSpecObject()); err != nil {
		t.Errorf("with only some maps listed: %v", err)
	}
}

func TestCheckSpecLies(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(m *Meta, s *ebpf.CollectionSpec)
		want string
	}{
		{"section differs", func(m *Meta, s *ebpf.CollectionSpec) {
			s.Programs["handle_exec"].SectionName = "cgroup_skb/egress"
		}, `package.json says program handle_exec is SEC("tp/sched/sched_process_exec") but the object has it in SEC("cgroup_skb/egress")`},
		{"listed program missing", func(m *Meta, s *ebpf.CollectionSpec) {
			m.BpfSkel.Progs[0].Name = "ghost"
		}, `package.json lists program ghost in SEC("tp/sched/sched_process_exec") but the object has no such program (it has handle_exec, handle_exit)`},
		{"object program unlisted", func(m *Meta, s *ebpf.CollectionSpec) {
			s.Programs["sneaky"] = &ebpf.ProgramSpec{Name: "sneaky", SectionName: "cgroup_skb/egress"}
		}, `the object has program sneaky in SEC("cgroup_skb/egress") but package.json does not list it (it lists handle_exec, handle_exit)`},
		{"listed map missing", func(m *Meta, s *ebpf.CollectionSpec) {
			m.BpfSkel.Maps[0].Name = "events"
		}, `package.json lists map events but the object has no such map (it has .bss, .data.a_long_section, .rodata, .rodata.str1.1, rb)`},
		{"data section missing", func(m *Meta, s *ebpf.CollectionSpec) {
			delete(s.Maps, ".bss")
		}, `package.json lists map execsnoo.bss but the object has no such map`},
		{"escaped names", func(m *Meta, s *ebpf.CollectionSpec) {
			m.BpfSkel.Progs[0].Name = "evil\x1b[2J\r"
		}, `package.json lists program evil\x1b[2J\x0d in SEC(`},
		{"several", func(m *Meta, s *ebpf.CollectionSpec) {
			s.Programs["handle_exec"].SectionName = "xdp"
			s.Programs["handle_exit"].SectionName = "xdp"
		}, `but the object has it in SEC("xdp") (and 1 more disagreement)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, s := checkSpecMeta(), checkSpecObject()
			c.edit(m, s)
			err := CheckSpec(m, s)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if !errors.Is(err, ErrMismatch) {
				t.Errorf("%v is not ErrMismatch", err)
			}
			if strings.ContainsAny(err.Error(), "\n\r\x1b") {
				t.Errorf("%q is not one plain line", err)
			}
		})
	}
}
