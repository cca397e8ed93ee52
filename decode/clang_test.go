package decode

import (
	"debug/elf"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/internal/testenv"
)

// TestClang decodes testdata/event.c's initialized global struct event, as
// clang lays it out in the .data section of a little- and a big-endian
// BPF object, through the BTF clang emits for it.
func TestClang(t *testing.T) {
	clang := testenv.Clang(t)
	const want = `{"ts":123456789012345,"pid":-42,"comm":"bash","bytes":[1,2,3,255],` +
		`"uc":200,"sc":-3,"c":65,"ok":true,"s":-300,"st":"DEAD","bg":"BIG",` +
		`"a":5,"b":-9,"st_bits":"RUNNING","flag":true,"wide":1094624909430,` +
		`"f":1.5,"d":-0.25,"i128":-1267650600228229401496703205376,` +
		`"u128":340282366920938463463374607431768211455,"ptr":"0x7ffd5e2a1c40",` +
		`"pts":[{"x":1,"y":-2},{"x":3,"y":4}],"grid":[[1,2,3],[4,5,6]],"names":["ab","cdef"],` +
		`"word":16777217,"octets":[1,0,0,1],"ax":-7,"ay":8,` +
		`"un":{"u":4611686018427387904,"dd":2},"cv":99,"tail":""}`

	for _, target := range []string{"bpfel", "bpfeb"} {
		t.Run(target, func(t *testing.T) {
			obj := filepath.Join(t.TempDir(), "event.o")
			cmd := exec.Command(clang, "-g", "-O2", "-target", target, "-c", "testdata/event.c", "-o", obj)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd, err, out)
			}
			f, err := elf.Open(obj)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			section, err := f.Section(".data").Data()
			if err != nil {
				t.Fatal(err)
			}
			spec, err := btf.LoadSpec(obj)
			if err != nil {
				t.Fatal(err)
			}
			var ds *btf.Datasec
			if err := spec.TypeByName(".data", &ds); err != nil {
				t.Fatal(err)
			}
			opts := &Options{ByteOrder: f.ByteOrder}

			var ev *btf.Struct
			if err := spec.TypeByName("event", &ev); err != nil {
				t.Fatal(err)
			}
			d, err := New(ev, opts)
			if err != nil {
				t.Fatal(err)
			}
			off := -1
			for _, v := range ds.Vars {
				if v.Type.(*btf.Var).Name == "ev" {
					off = int(v.Offset)
				}
			}
			if off < 0 || off+d.Size() > len(section) {
				t.Fatalf("ev at %d in %d bytes of .data", off, len(section))
			}
			got, err := d.AppendJSON(nil, section[off:off+d.Size()])
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("event:\n got %s\nwant %s", got, want)
			}

			// The whole section: a struct of its variables.
			d, err = New(ds, opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err = d.AppendJSON(nil, section)
			if err != nil {
				t.Fatal(err)
			}
			var vars struct {
				Ev      json.RawMessage `json:"ev"`
				Counter int             `json:"counter"`
			}
			if err := json.Unmarshal(got, &vars); err != nil {
				t.Fatalf("%v: %s", err, got)
			}
			if string(vars.Ev) != want || vars.Counter != 7 {
				t.Errorf(".data:\n got %s\nwant ev %s and counter 7", got, want)
			}
		})
	}
}

// TestClangNet decodes testdata/net.c's network events through the BTF
// clang emits for them: typedef names (__be16, u8, <ecc.h>'s address
// types), unsigned char arrays and anonymous unions as clang writes them.
func TestClangNet(t *testing.T) {
	clang := testenv.Clang(t)
	want := map[string]string{
		"c4": `{"saddr_v4":"127.0.0.1","daddr_v4":"10.0.1.2","daddr":"192.168.0.1","af":2,"dport":8080,` +
			`"sport":51234,"comm":"curl","raw":[1,2,3,4],"a4":"1.2.3.4","a6":"fe80::1","any":"8.8.8.8"}`,
		"c6": `{"saddr_v6":"::1","daddr_v6":"2001:db8::2","daddr":"2001:db8::","af":10,"dport":443,` +
			`"sport":1,"comm":"wget","raw":[0,0,0,0],"a4":"0.0.0.0","a6":"::","any":"::ffff:10.0.0.1"}`,
	}
	for _, target := range []string{"bpfel", "bpfeb"} {
		t.Run(target, func(t *testing.T) {
			obj := filepath.Join(t.TempDir(), "net.o")
			cmd := exec.Command(clang, "-g", "-O2", "-target", target, "-I", "../templates/include", "-c", "testdata/net.c", "-o", obj)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd, err, out)
			}
			f, err := elf.Open(obj)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			section, err := f.Section(".data").Data()
			if err != nil {
				t.Fatal(err)
			}
			spec, err := btf.LoadSpec(obj)
			if err != nil {
				t.Fatal(err)
			}
			var ds *btf.Datasec
			if err := spec.TypeByName(".data", &ds); err != nil {
				t.Fatal(err)
			}
			var conn *btf.Struct
			if err := spec.TypeByName("conn", &conn); err != nil {
				t.Fatal(err)
			}
			d, err := New(conn, &Options{ByteOrder: f.ByteOrder})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range ds.Vars {
				name := v.Type.(*btf.Var).Name
				got, _ := d.AppendJSON(nil, section[v.Offset:v.Offset+v.Size])
				if string(got) != want[name] {
					t.Errorf("%s:\n got %s\nwant %s", name, got, want[name])
				}
			}
			if h := string(d.AppendHeader(nil)); !strings.HasPrefix(h, "SADDR           DADDR           DADDR ") {
				t.Errorf("header %q", h)
			}
		})
	}
}
