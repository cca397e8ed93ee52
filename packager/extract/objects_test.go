package extract

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/packager"
)

// The objects under testdata are built by ecc build from the sources next
// to them and committed, so that these tests need no clang:
//
//go:generate sh testdata/build.sh
//go:generate go test -run ^TestObjects$ -update .

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from what Extract returns")

// extractObject extracts testdata/NAME.bpf.o as ecc build does: with the
// doc comments of NAME.bpf.c, the export header NAME.h when there is one,
// and, with own, the structs the source defines (what ecc build passes on
// its second pass when a buffer is left without a struct).
func extractObject(t *testing.T, name string, own bool) (*packager.Meta, []string) {
	t.Helper()
	read := func(file string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return b
	}
	in := &Input{
		Object: read(name + ".bpf.o"), Name: name,
		Source: name + ".bpf.c", SourceText: read(name + ".bpf.c"),
	}
	if hdr := read(name + ".h"); hdr != nil {
		in.Header, in.HeaderText, in.HeaderStructs = name+".h", hdr, HeaderStructs(hdr)
	}
	if own {
		in.OwnStructs = HeaderStructs(in.SourceText)
	}
	var notes []string
	in.Warn = func(msg string) { notes = append(notes, "warning: "+msg) }
	in.Info = func(msg string) { notes = append(notes, msg) }
	m, err := Extract(in)
	if err != nil {
		t.Fatalf("extract %s: %v", name, err)
	}
	return m, notes
}

// Each object's metadata, whole, against testdata/NAME.golden.json; the
// cases below say what each one is there for.
func TestObjects(t *testing.T) {
	for _, c := range []struct {
		name string
		own  bool
	}{{"events", false}, {"bound", false}, {"own", true}} {
		t.Run(c.name, func(t *testing.T) {
			m, notes := extractObject(t, c.name, c.own)
			for _, n := range notes {
				if strings.HasPrefix(n, "warning: ") {
					t.Error(n)
				}
			}
			got, err := packager.MarshalMeta(m)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", c.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("metadata of %s.bpf.o differs from %s (go test -update rewrites it):\n%s", c.name, golden, got)
			}
		})
	}
}

// variables maps "SECTION.NAME" to each variable extracted.
func variables(m *packager.Meta) map[string]packager.Variable {
	out := map[string]packager.Variable{}
	for _, ds := range m.BpfSkel.DataSections {
		for _, v := range ds.Variables {
			out[ds.Name+"."+v.Name] = v
		}
	}
	return out
}

func mapNamed(m *packager.Meta, name string) *packager.Map {
	for i := range m.BpfSkel.Maps {
		if m.BpfSkel.Maps[i].Name == name {
			return &m.BpfSkel.Maps[i]
		}
	}
	return nil
}

func exportNames(m *packager.Meta) []string {
	var out []string
	for _, et := range m.ExportTypes {
		out = append(out, et.Name)
	}
	return out
}

// events.bpf.o: programs with their whole SEC names; globals of .rodata,
// .data and .bss with types, defaults (none for .bss), descriptions and
// @cmdarg; the static left out; the export header's struct with its
// @format; a @sample map; the doc above LICENSE.
func TestObjectEvents(t *testing.T) {
	m, _ := extractObject(t, "events", false)
	var progs []string
	for _, p := range m.BpfSkel.Progs {
		progs = append(progs, p.Name+" "+p.Attach)
	}
	if want := []string{"handle_exec tp/sched/sched_process_exec", "handle_switch raw_tp/sched_switch"}; !slices.Equal(progs, want) {
		t.Errorf("progs %q, want %q", progs, want)
	}
	vars := variables(m)
	for key, want := range map[string]struct{ typ, value string }{
		".rodata.targ_pid":    {"int", "0"},
		".rodata.targ_failed": {"bool", "false"},
		".rodata.targ_comm":   {"char[16]", `"bash"`},
		".rodata.min_ns":      {"__u64", "1000000"},
		".data.mode":          {"int", "2"},
		".bss.seen":           {"__u64", ""},
	} {
		v, ok := vars[key]
		if !ok {
			t.Errorf("no variable %s in %v", key, vars)
			continue
		}
		if v.Type != want.typ || string(v.Value) != want.value {
			t.Errorf("%s: type %q value %s, want %q %s", key, v.Type, v.Value, want.typ, want.value)
		}
		if v.Description == "" {
			t.Errorf("%s: no description", key)
		}
	}
	for key := range vars {
		if strings.HasSuffix(key, ".calls") {
			t.Errorf("the static %s is extracted", key)
		}
	}
	// (It is in the object, static.)
	obj, _ := os.ReadFile("testdata/events.bpf.o")
	spec, err := bpfobj.LoadSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	var calls *btf.Var
	for _, vs := range spec.Maps[".data"].Value.(*btf.Datasec).Vars {
		if v, ok := vs.Type.(*btf.Var); ok && v.Name == "calls" {
			calls = v
		}
	}
	if calls == nil || calls.Linkage != btf.StaticVar {
		t.Errorf("events.bpf.o has no static calls in .data: %v", calls)
	}
	if ca := vars[".rodata.targ_pid"].Cmdarg; ca == nil || ca.Short != "p" || ca.Long != "pid" || string(ca.Default) != "0" {
		t.Errorf("targ_pid cmdarg %+v", ca)
	}
	if ca := vars[".rodata.targ_failed"].Cmdarg; ca == nil || ca.Long != "failed" || ca.Short != "" {
		t.Errorf("targ_failed cmdarg %+v", ca)
	}
	if d := vars[".rodata.targ_pid"].Description; d != "Trace only this process id (0: every process)" {
		t.Errorf("targ_pid description %q", d)
	}
	if got := exportNames(m); !slices.Equal(got, []string{"event"}) {
		t.Fatalf("export types %q, want the header's event", got)
	}
	var members []string
	for _, mb := range m.ExportTypes[0].Members {
		members = append(members, mb.Name+":"+mb.Type+":"+mb.Format)
	}
	if want := []string{"pid:int:", "flags:unsigned int:hex", "ts_ns:unsigned long long:", "comm:char[16]:"}; !slices.Equal(members, want) {
		t.Errorf("members %q, want %q", members, want)
	}
	if ev := mapNamed(m, "events"); ev == nil || ev.ExportType != "event" {
		t.Errorf("ring buffer events: %+v", ev)
	}
	if h := mapNamed(m, "hists"); h == nil || h.Sample == nil || h.Sample.Type != packager.SampleLog2Hist || h.Sample.Interval != 1000 || h.Sample.Unit != "nsecs" {
		t.Errorf("@sample map hists: %+v", h)
	}
	if d := m.BpfSkel.Doc; d == nil || d.Version != "1.2.3" || d.Brief != "Extraction test object" || d.Details != "Not for running." {
		t.Errorf("doc %+v", d)
	}
}

// bound.bpf.o: ECC_EXPORT binds a ring buffer and a perf event array each
// to its struct, without an export header.
func TestObjectBound(t *testing.T) {
	m, notes := extractObject(t, "bound", false)
	if got := exportNames(m); !slices.Equal(got, []string{"open_event", "exit_event"}) {
		t.Errorf("export types %q", got)
	}
	for buf, want := range map[string]string{"opens": "open_event", "exits": "exit_event"} {
		if mp := mapNamed(m, buf); mp == nil || mp.ExportType != want {
			t.Errorf("map %s: %+v, want export type %s", buf, mp, want)
		}
	}
	if !slices.Contains(notes, "map opens carries struct open_event (ECC_EXPORT)") {
		t.Errorf("notes %q", notes)
	}
}

// own.bpf.o: without header or ECC_EXPORT, the perf event array carries
// the one struct of the source whose size the program submits; the other
// struct of the source is not exported.
func TestObjectOwn(t *testing.T) {
	m, _ := extractObject(t, "own", true)
	if got := exportNames(m); !slices.Equal(got, []string{"tick_sample"}) {
		t.Errorf("export types %q, want tick_sample alone", got)
	}
	if mp := mapNamed(m, "samples"); mp == nil || mp.ExportType != "tick_sample" || !strings.Contains(mp.ExportTypeReason, "programs submit 16 bytes") {
		t.Errorf("map samples: %+v", mp)
	}
	// Without the source's structs, nothing binds the buffer.
	m, _ = extractObject(t, "own", false)
	if len(m.ExportTypes) != 0 {
		t.Errorf("export types without OwnStructs: %q", exportNames(m))
	}
}
