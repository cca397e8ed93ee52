package packager

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func testObject() []byte {
	obj := append([]byte{}, elfMagic...)
	for i := 0; i < 200; i++ {
		obj = append(obj, byte(i*7))
	}
	return obj
}

func testMeta() Meta {
	return Meta{
		BpfSkel: Skeleton{
			ObjName: "execsnoop_bpf",
			Doc:     &Doc{Brief: "trace exec", Version: "0.1.0"},
			DataSections: []DataSection{{Name: ".rodata", Variables: []Variable{{
				Name: "targ_pid", Type: "pid_t", Value: json.RawMessage(`0`),
				Description: "pid to trace",
				Cmdarg:      &Cmdarg{Default: json.RawMessage(`0`), Long: "pid", Short: "p"},
			}}}},
			Maps: []Map{{Name: "events", Ident: "events", Type: "RingBuf", MaxEntries: 262144, ExportType: "event"},
				{Name: "hist", Ident: "hist", Sample: &Sample{Interval: 1000, Type: SampleLog2Hist, Unit: "usecs"}}},
			Progs: []Prog{{Name: "handle_exec", Attach: "tp/sched/sched_process_exec", Link: true}},
		},
		ExportTypes: []ExportType{{Name: "event", TypeID: 12, Size: 24, Members: []ExportMember{
			{Name: "pid", Type: "int"}, {Name: "comm", Type: "char[16]", Offset: 4, Size: 16}}}},
	}
}

func TestRoundTrip(t *testing.T) {
	p := &Package{Object: testObject(), Meta: testMeta()}
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q.Object, p.Object) {
		t.Fatal("object changed in the round trip")
	}
	want := p.Meta
	want.FillDefaults()
	if !reflect.DeepEqual(q.Meta, want) {
		t.Fatalf("meta changed:\n got %+v\nwant %+v", q.Meta, want)
	}
	// Deterministic encoding.
	again, _ := q.Marshal()
	if !bytes.Equal(again, data) {
		t.Fatal("re-encoding differs")
	}
	// The wire layout eunomia reads.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"bpf_object", "bpf_object_size", "meta"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("package.json lacks %q", k)
		}
	}
	var meta map[string]json.RawMessage
	json.Unmarshal(raw["meta"], &meta)
	for _, k := range []string{"bpf_skel", "export_types", "eunomia_version", "poll_timeout_ms", "perf_buffer_pages", "debug_verbose", "print_header"} {
		if _, ok := meta[k]; !ok {
			t.Errorf("meta lacks %q", k)
		}
	}
	if string(meta["poll_timeout_ms"]) != "100" || string(meta["perf_buffer_pages"]) != "64" {
		t.Errorf("defaults: poll_timeout_ms=%s perf_buffer_pages=%s", meta["poll_timeout_ms"], meta["perf_buffer_pages"])
	}
}

func TestMetaRoundTrip(t *testing.T) {
	m := testMeta()
	data, err := MarshalMeta(&m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalMeta(data)
	if err != nil {
		t.Fatal(err)
	}
	m.FillDefaults()
	if !reflect.DeepEqual(*got, m) {
		t.Fatalf("got %+v\nwant %+v", *got, m)
	}
}

// An eunomia skeleton with null maps/progs, as eunomia writes it.
func TestEunomiaNullLists(t *testing.T) {
	src := `{"bpf_skel":{"data_sections":[{"name":".bss","variables":[{"name":"__eunomia_dummy_S_ptr","type":"struct S *"}]}],
	"maps":null,"obj_name":"dumper_test_bpf","progs":null},"eunomia_version":"0.3.2",
	"export_types":[{"members":[{"name":"arr1","type":"int[2][3][4]"}],"name":"S","size":368,"type_id":2}]}`
	m, err := UnmarshalMeta([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if m.BpfSkel.Maps == nil || m.BpfSkel.Progs == nil || len(m.BpfSkel.Maps) != 0 {
		t.Fatalf("null lists not made empty: %+v", m.BpfSkel)
	}
	if m.PollTimeoutMs != 100 || m.PerfBufferPages != 64 {
		t.Fatalf("defaults not filled: %+v", m)
	}
	if m.ExportTypes[0].Size != 368 || m.ExportTypes[0].Members[0].Type != "int[2][3][4]" {
		t.Fatalf("export types: %+v", m.ExportTypes)
	}
}

func encodeObj(obj []byte) string {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(obj)
	zw.Close()
	return base64.StdEncoding.EncodeToString(z.Bytes())
}

func TestUnmarshalErrors(t *testing.T) {
	obj := testObject()
	good := encodeObj(obj)
	metaJSON := `{"bpf_skel":{"obj_name":"x","data_sections":[],"maps":[],"progs":[]}}`
	pkg := func(b64 string, size any, meta string) string {
		return fmt.Sprintf(`{"bpf_object":%q,"bpf_object_size":%v,"meta":%s}`, b64, size, meta)
	}
	cases := []struct {
		name, in, want string
	}{
		{"valid", pkg(good, len(obj), metaJSON), ""},
		{"empty", ``, "truncated JSON"},
		{"not json", `hello`, "JSON syntax error"},
		{"truncated json", pkg(good, len(obj), metaJSON)[:50], "truncated JSON"},
		{"trailing", pkg(good, len(obj), metaJSON) + "{}", "trailing data"},
		{"missing object", `{"bpf_object_size":1,"meta":{}}`, `missing field "bpf_object"`},
		{"null object", `{"bpf_object":null,"bpf_object_size":1,"meta":{}}`, `missing field "bpf_object"`},
		{"missing size", fmt.Sprintf(`{"bpf_object":%q,"meta":{}}`, good), `missing field "bpf_object_size"`},
		{"missing meta", fmt.Sprintf(`{"bpf_object":%q,"bpf_object_size":%d}`, good, len(obj)), `missing field "meta"`},
		{"null meta", pkg(good, len(obj), "null"), `missing field "meta"`},
		{"size string", pkg(good, `"12"`, metaJSON), `field "bpf_object_size"`},
		{"size zero", pkg(good, 0, metaJSON), "out of range"},
		{"size huge", pkg(good, int64(1)<<40, metaJSON), "out of range"},
		{"truncated base64", pkg(good[:len(good)-7], len(obj), metaJSON), "bad base64"},
		{"not zlib", pkg(base64.StdEncoding.EncodeToString([]byte("plain text here")), 15, metaJSON), "not a zlib stream"},
		{"truncated zlib", pkg(base64.StdEncoding.EncodeToString(mustDecode(good)[:20]), len(obj), metaJSON), "inflate"},
		{"inflates past size", pkg(good, len(obj)-1, metaJSON), "inflates past bpf_object_size"},
		{"inflates short", pkg(good, len(obj)+1, metaJSON), "inflates to"},
		{"not elf", pkg(encodeObj([]byte("not an elf file")), 15, metaJSON), "not an ELF"},
		{"no bpf_skel", pkg(good, len(obj), `{}`), `missing field "bpf_skel"`},
		{"null bpf_skel", pkg(good, len(obj), `{"bpf_skel":null}`), `missing field "bpf_skel"`},
		{"no obj_name", pkg(good, len(obj), `{"bpf_skel":{"data_sections":[]}}`), `"obj_name"`},
		{"bad sample", pkg(good, len(obj), `{"bpf_skel":{"obj_name":"x","data_sections":[],"maps":[{"name":"m","ident":"m","sample":{"interval":1,"type":"pie"}}]}}`), `sample.type "pie"`},
		{"prog no attach", pkg(good, len(obj), `{"bpf_skel":{"obj_name":"x","data_sections":[],"progs":[{"name":"p"}]}}`), "missing attach"},
		{"var no type", pkg(good, len(obj), `{"bpf_skel":{"obj_name":"x","data_sections":[{"name":".rodata","variables":[{"name":"v"}]}]}}`), "missing type"},
		{"long short", pkg(good, len(obj), `{"bpf_skel":{"obj_name":"x","data_sections":[{"name":".rodata","variables":[{"name":"v","type":"int","cmdarg":{"short":"pp"}}]}]}}`), "one character"},
		{"variables wrong type", pkg(good, len(obj), `{"bpf_skel":{"obj_name":"x","data_sections":[{"name":".rodata","variables":{}}]}}`), "meta.bpf_skel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Unmarshal([]byte(c.in))
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if !bytes.Equal(p.Object, obj) {
					t.Fatal("object differs")
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// A small stream that inflates to far more than the cap must stop at the cap.
func TestZipBomb(t *testing.T) {
	big := make([]byte, MaxObjectSize+1024)
	copy(big, elfMagic)
	in := fmt.Sprintf(`{"bpf_object":%q,"bpf_object_size":%d,"meta":{"bpf_skel":{"obj_name":"x"}}}`, encodeObj(big), MaxObjectSize)
	_, err := Unmarshal([]byte(in))
	if err == nil || !strings.Contains(err.Error(), "inflates past") {
		t.Fatalf("got %v", err)
	}
}

func mustDecode(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "nope.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"bpf_object": 1}`), 0o644)
	if _, err := ReadFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("error should name the file: %v", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "package.json")
	if err := WriteFileAtomic(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "x" {
		t.Fatalf("content %q", b)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "no", "such", "f"), []byte("x"), 0o644); err == nil {
		t.Fatal("expected error for missing folder")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("left files behind: %v", ents)
	}
}

func FuzzUnmarshal(f *testing.F) {
	p := &Package{Object: testObject(), Meta: testMeta()}
	data, _ := p.Marshal()
	f.Add(data)
	f.Add([]byte(`{"bpf_object":"eJw=","bpf_object_size":4,"meta":{"bpf_skel":{"obj_name":"x"}}}`))
	f.Add([]byte(`{"bpf_object":"","bpf_object_size":1,"meta":null}`))
	f.Add([]byte(`[]`))
	if withBTF, err := btfPackage().Marshal(); err == nil {
		f.Add(withBTF)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Unmarshal(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		// Whatever decodes must encode and decode to the same thing.
		out, err := p.Marshal()
		if err != nil {
			t.Fatalf("decoded package does not re-encode: %v", err)
		}
		q, err := Unmarshal(out)
		if err != nil {
			t.Fatalf("re-encoded package does not decode: %v", err)
		}
		if !bytes.Equal(p.Object, q.Object) || !reflect.DeepEqual(p.BTF, q.BTF) {
			t.Fatal("object or kernel BTF changed")
		}
	})
}

func FuzzUnmarshalMeta(f *testing.F) {
	m := testMeta()
	data, _ := MarshalMeta(&m)
	f.Add(data)
	f.Add([]byte(`{"bpf_skel":{"obj_name":"x","maps":null,"progs":null,"data_sections":[]}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := UnmarshalMeta(in)
		if err != nil {
			return
		}
		if _, err := MarshalMeta(m); err != nil {
			t.Fatalf("decoded meta does not re-encode: %v", err)
		}
	})
}
