package decode

import (
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func TestSelect(t *testing.T) {
	d, data := benchEvent(t)
	s, err := d.Select("comm", "pid", "PID", "flags")
	if err != nil {
		t.Fatal(err)
	}
	json, _ := s.AppendJSON(nil, data)
	if want := `{"comm":"systemd-journal","pid":4242,"flags":65}`; string(json) != want {
		t.Errorf("JSON %s, want %s", json, want)
	}
	text, _ := s.AppendText(nil, data)
	if want := "systemd-journal     4242    65"; string(text) != want {
		t.Errorf("text %q, want %q", text, want)
	}
	if h := string(s.AppendHeader(nil)); h != "COMM                 PID FLAGS" {
		t.Errorf("header %q", h)
	}
	// A short event leaves out what it does not hold, as the whole
	// struct does.
	json, _ = s.AppendJSON(nil, data[:30])
	if want := `{"comm":"system","pid":4242}`; string(json) != want {
		t.Errorf("short JSON %s, want %s", json, want)
	}
	// Members left out of the text columns can be chosen.
	w, err := d.WithoutColumns("ts", "fname").Select("fname", "ts")
	if err != nil {
		t.Fatal(err)
	}
	if h := string(w.AppendHeader(nil)); !strings.HasPrefix(h, "FNAME") || !strings.HasSuffix(h, " TS") {
		t.Errorf("header %q: want FNAME then TS", h)
	}
	// An empty selection prints an empty object and no columns.
	e, _ := d.Select()
	if json, _ := e.AppendJSON(nil, data); string(json) != "{}" || len(e.Columns()) != 0 {
		t.Errorf("empty selection: %s, %d columns", json, len(e.Columns()))
	}
	if got := strings.Join(d.Fields(), ","); got != "ts,pid,tid,uid,ret,comm,fname,flags,is_dir,mode,op" {
		t.Errorf("fields %s", got)
	}
}

func TestSelectUnknown(t *testing.T) {
	d, _ := benchEvent(t)
	_, err := d.Select("pid", "pidd")
	var ue *UnknownFieldError
	if !errors.As(err, &ue) || ue.Name != "pidd" || len(ue.Fields) != 11 {
		t.Fatalf("error %v: want an UnknownFieldError listing 11 fields", err)
	}
	if !strings.Contains(err.Error(), "ts, pid, tid") {
		t.Errorf("error %q lists no fields", err)
	}
	scalar, err := New(tU32, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scalar.Select("pid"); !errors.As(err, &ue) || !strings.Contains(err.Error(), "not a struct") {
		t.Errorf("select on a scalar: %v", err)
	}
}

// An address pair answers to the name both members share and to each
// member's own.
func TestSelectPair(t *testing.T) {
	d, err := New(tcpconnect(), nil)
	if err != nil {
		t.Fatal(err)
	}
	v6 := le{}.ip("::1").ip("fe80::1").str("curl", 16).u32(afInet6).u32(42)
	s, err := d.Select("pid", "daddr")
	if err != nil {
		t.Fatal(err)
	}
	if json, _ := s.AppendJSON(nil, v6); string(json) != `{"pid":42,"daddr_v6":"fe80::1"}` {
		t.Errorf("JSON %s", json)
	}
	if text, _ := s.AppendText(nil, v6); string(text) != "     42 fe80::1" {
		t.Errorf("text %q", text)
	}
	s, err = d.Select("saddr_v6")
	if err != nil {
		t.Fatal(err)
	}
	if json, _ := s.AppendJSON(nil, v6); string(json) != `{"saddr_v6":"::1"}` {
		t.Errorf("JSON %s", json)
	}
	// A member the family hides is left out of JSON, blank in text.
	v4 := le{}.ip4in16("127.0.0.1").ip4in16("10.1.2.3").str("curl", 16).u32(afInet).u32(42)
	s, err = d.Select("saddr_v6", "pid")
	if err != nil {
		t.Fatal(err)
	}
	json, _ := s.AppendJSON(nil, v4)
	text, _ := s.AppendText(nil, v4)
	cell, _ := s.AppendCell(nil, v4, 0)
	if string(json) != `{"pid":42}` || string(text) != strings.Repeat(" ", 25)+"      42" || len(cell) != 0 {
		t.Errorf("hidden member: JSON %s, text %q, cell %q", json, text, cell)
	}
}

func TestParseFilter(t *testing.T) {
	for in, want := range map[string]Filter{
		"pid==42":        {"pid", OpEq, "42"},
		"pid=42":         {"pid", OpEq, "42"},
		"comm!=bash":     {"comm", OpNe, "bash"},
		"fname~^/etc/":   {"fname", OpMatch, "^/etc/"},
		"fname!~a==b":    {"fname", OpNotMatch, "a==b"},
		"ret<0":          {"ret", OpLt, "0"},
		"ret<=-1":        {"ret", OpLe, "-1"},
		"uid>1000":       {"uid", OpGt, "1000"},
		"uid>=0x10":      {"uid", OpGe, "0x10"},
		"comm==":         {"comm", OpEq, ""},
		"comm==two word": {"comm", OpEq, "two word"},
	} {
		got, err := ParseFilter(in)
		if err != nil || got != want {
			t.Errorf("ParseFilter(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if err == nil && got.Op != OpEq && got.String() != in {
			t.Errorf("%+v prints as %q, want %q", got, got.String(), in)
		}
	}
	for _, bad := range []string{"", "==1", "pid", "pid 1", "pid!1", "-pid==1"} {
		if _, err := ParseFilter(bad); !errors.Is(err, ErrFilterSyntax) {
			t.Errorf("ParseFilter(%q): %v, want ErrFilterSyntax", bad, err)
		}
	}
}

func TestMatcher(t *testing.T) {
	d, data := benchEvent(t)
	// pid 4242, uid 1000, ret 3, comm systemd-journal, fname libc path,
	// flags 0x41, is_dir false, mode 0644, op OP_OPENAT.
	for _, c := range []struct {
		filters []string
		want    bool
	}{
		{[]string{"pid==4242"}, true},
		{[]string{"pid==4243"}, false},
		{[]string{"pid!=4243"}, true},
		{[]string{"pid==0x1092"}, true},
		{[]string{"pid>4000", "pid<5000"}, true},
		{[]string{"pid>=4242", "pid<=4242"}, true},
		{[]string{"pid>4242"}, false},
		{[]string{"ret>-1"}, true},
		{[]string{"ret<-1"}, false},
		{[]string{"uid==1000", "comm==systemd-journal"}, true},
		{[]string{"uid==1000", "comm==systemd"}, false},
		{[]string{"comm~^systemd"}, true},
		{[]string{"comm!~journal"}, false},
		{[]string{"fname~libc\\.so"}, true},
		{[]string{"pid~^42"}, true},
		{[]string{"op==OP_OPENAT"}, true},
		{[]string{"op!=OP_OPEN"}, true},
		{[]string{"op==1"}, true},
		{[]string{"op~OPENAT$"}, true},
		{[]string{"is_dir==false"}, true},
		{[]string{"is_dir==true"}, false},
		{[]string{"mode==0o644"}, true},
		{[]string{"flags==65", "flags==0x41", "flags!=0"}, true},
		{[]string{"Comm==systemd-journal"}, true},
	} {
		fs := make([]Filter, len(c.filters))
		for i, s := range c.filters {
			f, err := ParseFilter(s)
			if err != nil {
				t.Fatal(err)
			}
			fs[i] = f
		}
		m, err := d.NewMatcher(fs)
		if err != nil {
			t.Errorf("%v: %v", c.filters, err)
			continue
		}
		if got := m.Match(data); got != c.want {
			t.Errorf("%v matches: %v, want %v", c.filters, got, c.want)
		}
	}
	// A member a short event does not hold fails the filter, even !=.
	m := matcher(t, d, "op!=OP_OPEN")
	if m.Match(data[:100]) {
		t.Error("a short event passes a filter on a member it lacks")
	}
	if !matcher(t, d, "fname~^/usr").Match(data[:45]) {
		t.Error("a string cut short is not compared as far as it goes")
	}
}

func matcher(t *testing.T, d *Decoder, s string) *Matcher {
	t.Helper()
	f, err := ParseFilter(s)
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.NewMatcher([]Filter{f})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatcherErrors(t *testing.T) {
	d, _ := benchEvent(t)
	for s, want := range map[string]string{
		"pidd==1":                    `no field "pidd"; the fields are ts, pid`,
		"pid==abc":                   `pid==abc: pid is an integer; "abc" is not one`,
		"uid==1.5":                   "uid is an integer",
		"comm<b":                     "< compares numbers, and comm is not one",
		"op==OP_CLOSE":               `"OP_CLOSE" is no value of op; its names are OP_OPEN, OP_OPENAT, OP_OPENAT2`,
		"is_dir==yes":                "is_dir is a bool",
		"fname~(":                    "bad regular expression",
		"ret==":                      "ret is an integer",
		"pid==999999999999999999999": "pid is an integer",
	} {
		f, err := ParseFilter(s)
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.NewMatcher([]Filter{f})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", s, err, want)
		}
	}
}

// Addresses compare by their text; a pair by the member the family
// selects.
func TestMatcherAddresses(t *testing.T) {
	d, err := New(tcpconnect(), nil)
	if err != nil {
		t.Fatal(err)
	}
	v4 := le{}.ip4in16("127.0.0.1").ip4in16("10.1.2.3").str("curl", 16).u32(afInet).u32(42)
	v6 := le{}.ip("::1").ip("fe80::1").str("curl", 16).u32(afInet6).u32(42)
	for _, c := range []struct {
		filter string
		v4, v6 bool
	}{
		{"daddr==10.1.2.3", true, false},
		{"daddr==fe80::1", false, true},
		{"saddr~^127\\.|^::1$", true, true},
		{"daddr_v4==254.128.0.0", false, true}, // the member alone, whatever af says
		{"af==2", true, false},
	} {
		m := matcher(t, d, c.filter)
		if m.Match(v4) != c.v4 || m.Match(v6) != c.v6 {
			t.Errorf("%s: v4 %v v6 %v, want %v %v", c.filter, m.Match(v4), m.Match(v6), c.v4, c.v6)
		}
	}
}

// Signed members, bitfields and hex-formatted ones compare as numbers.
func TestMatcherNumbers(t *testing.T) {
	e := &btf.Enum{Name: "e", Size: 4, Signed: true, Values: []btf.EnumValue{{Name: "NEG", Value: 0xffffffff}, {Name: "ONE", Value: 1}}}
	typ := st("ev", 24,
		mem("s8", tSChar, 0), mem("s16", tShort, 2), mem("s64", tLong, 8),
		bitf("bits", tInt, 128, 5), mem("e", e, 20))
	d, err := New(typ, &Options{Formats: map[string]map[string]Format{"ev": {"s16": FormatHex}}})
	if err != nil {
		t.Fatal(err)
	}
	data := le{}.u8(0xfe).u8(0).u16(0x8001).u32(0).u64(1 << 63).u32(0x1d).u32(0xffffffff)
	for f, want := range map[string]bool{
		"s8==-2": true, "s8<0": true, "s8>-3": true,
		"s16==0x8001": true, "s16>0": true, "s16~^0x8001$": true,
		"s64==-9223372036854775808": true, "s64<-1": true,
		"bits==-3": true, "bits<0": true,
		"e==NEG": true, "e==-1": true, "e!=ONE": true,
	} {
		if got := matcher(t, d, f).Match(data); got != want {
			t.Errorf("%s: %v, want %v", f, got, want)
		}
	}
}

// Filtering and selecting allocate nothing per event.
func TestMatcherAllocs(t *testing.T) {
	d, data := benchEvent(t)
	s, err := d.Select("pid", "comm", "fname")
	if err != nil {
		t.Fatal(err)
	}
	m := matcher(t, d, "fname~libc")
	n := matcher(t, d, "mode==0o644")
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		if m.Match(data) && n.Match(data) {
			buf, _ = s.AppendJSON(buf[:0], data)
			buf, _ = s.AppendText(buf[:0], data)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per event", allocs)
	}
}
