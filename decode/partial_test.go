package decode

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// execsnoop is libbpf-tools' execsnoop event: it sends
// offsetof(struct event, args) + args_size bytes.
func execsnoop() *btf.Struct {
	return st("event", 7720,
		mem("pid", tPid, 0), mem("ppid", tPid, 4), mem("uid", tU32, 8), mem("retval", tInt, 12),
		mem("args_count", tInt, 16), mem("args_size", tU32, 20),
		mem("comm", arr(tChar, 16), 24), mem("args", arr(tChar, 7680), 40))
}

func TestShortData(t *testing.T) {
	typ := execsnoop()
	head := le{}.u32(1234).u32(1).u32(0).u32(0).u32(2).u32(6).str("ls", 16)
	rec := append(head, "ls\x00-l\x00"...)
	for _, g := range []golden{{
		name: "variable length", data: rec,
		json: `{"pid":1234,"ppid":1,"uid":0,"retval":0,"args_count":2,"args_size":6,"comm":"ls","args":"ls"}`,
		text: "   1234       1       0       0          2         6 ls               ls",
	}, {
		name: "no args", data: head,
		json: `{"pid":1234,"ppid":1,"uid":0,"retval":0,"args_count":2,"args_size":6,"comm":"ls"}`,
		text: "   1234       1       0       0          2         6 ls               ",
	}, {
		name: "string cut", data: le{}.u32(1).u32(2).u32(3).u32(4).u32(5).u32(6).str("abcdefgh", 8),
		json: `{"pid":1,"ppid":2,"uid":3,"retval":4,"args_count":5,"args_size":6,"comm":"abcdefgh"}`,
		text: "      1       2       3       4          5         6 abcdefgh         ",
	}, {
		name: "integer cut", data: le{}.u32(7).u16(1),
		json: `{"pid":7}`,
		text: "      7" + strings.Repeat(" ", 63),
	}, {
		name: "empty", data: nil,
		json: `{}`,
		text: strings.Repeat(" ", 70),
	}} {
		g.typ = typ
		t.Run(g.name, g.check)
	}
	d, err := New(typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.MinSize() != 4 {
		t.Errorf("MinSize = %d, want 4", d.MinSize())
	}

	point := st("point", 8, mem("x", tInt, 0), mem("y", tInt, 4))
	nested := st("n", 48, mem("a", tU32, 0), mem("p", point, 4), mem("pts", arr(point, 2), 12),
		mem("w", arr(tU64, 2), 32))
	full := le{}.u32(1).u32(2).u32(3).u32(4).u32(5).u32(6).u32(7).u32(0).u64(8).u64(9)
	for _, g := range []golden{
		{name: "struct cut", data: full[:8], json: `{"a":1,"p":{"x":2}}`, text: "      1 {x=2}     "},
		{name: "array of structs cut", data: full[:24], json: `{"a":1,"p":{"x":2,"y":3},"pts":[{"x":4,"y":5},{"x":6}]}`, text: "      1 {x=2 y=3} [{x=4 y=5},{x=6}] "},
		{name: "array cut", data: full[:44], json: `{"a":1,"p":{"x":2,"y":3},"pts":[{"x":4,"y":5},{"x":6,"y":7}],"w":[8]}`, text: "      1 {x=2 y=3} [{x=4 y=5},{x=6 y=7}] [8]"},
		{name: "array start", data: full[:33], json: `{"a":1,"p":{"x":2,"y":3},"pts":[{"x":4,"y":5},{"x":6,"y":7}],"w":[]}`},
	} {
		g.typ = nested
		t.Run(g.name, g.check)
	}

	// A family member past the end: the v4 member of a pair prints.
	t.Run("pair cut", golden{
		typ: tcpconnect(), data: le{}.ip("::1").ip("::2").str("curl", 16)[:40],
		json: `{"saddr_v4":"0.0.0.0","daddr_v4":"0.0.0.0","task":"curl"}`,
		text: "0.0.0.0         0.0.0.0         curl" + strings.Repeat(" ", 28),
	}.check)

	// A scalar root cut short is null.
	d, err = New(tU64, nil)
	if err != nil {
		t.Fatal(err)
	}
	if js, _ := d.AppendJSON(nil, []byte{1}); string(js) != "null" {
		t.Errorf("short scalar: %s", js)
	}
	// Every prefix of every kind of event is valid JSON.
	for _, typ := range []btf.Type{typ, nested, tcpconnect()} {
		d, err := New(typ, nil)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, d.Size())
		for i := range data {
			data[i] = byte(i*7 + 1)
		}
		for n := range min(len(data), 200) {
			js, err := d.AppendJSON(nil, data[:n])
			if err != nil || !json.Valid(js) {
				t.Fatalf("%v, %d bytes: %s, %v", typ, n, js, err)
			}
		}
	}
}

func TestHasMember(t *testing.T) {
	d, err := New(tcpconnect(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"saddr_v4": true, "daddr_v6": true, "task": true, "saddr": false, "timestamp": false} {
		if d.HasMember(name) != want {
			t.Errorf("HasMember(%q) = %v", name, !want)
		}
	}
}
