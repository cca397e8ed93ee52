package loader

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

func TestParseMaxEntries(t *testing.T) {
	s, err := ParseMaxEntries([]string{"4096", "counts=0x100", "starts=7"})
	if err != nil || s.Default != 4096 || s.ByName["counts"] != 256 || s.ByName["starts"] != 7 {
		t.Errorf("got %+v, %v", s, err)
	}
	for _, bad := range []string{"0", "-1", "x", "=5", "m=", "m=0", "m=99999999999"} {
		if _, err := ParseMaxEntries([]string{bad}); err == nil || !strings.Contains(err.Error(), "--max-entries") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := ParseMaxEntries([]string{"5", "6"}); err == nil {
		t.Error("two defaults accepted")
	}
}

func TestSizeMaps(t *testing.T) {
	spec := func() *ebpf.CollectionSpec {
		return &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{
			"hash":   {Name: "hash", Type: ebpf.Hash},
			"lru":    {Name: "lru", Type: ebpf.LRUCPUHash},
			"array":  {Name: "array", Type: ebpf.PerCPUArray},
			"sized":  {Name: "sized", Type: ebpf.Hash, MaxEntries: 8},
			"stacks": {Name: "stacks", Type: ebpf.StackTrace},
			"rb":     {Name: "rb", Type: ebpf.RingBuf},
			"perf":   {Name: "perf", Type: ebpf.PerfEventArray},
			".bss":   {Name: ".bss", Type: ebpf.Array, MaxEntries: 1},
		}}
	}
	size := func(s *ebpf.CollectionSpec) map[string]uint32 {
		out := map[string]uint32{}
		for n, m := range s.Maps {
			out[n] = m.MaxEntries
		}
		return out
	}
	for _, c := range []struct {
		flags []string
		want  map[string]uint32
	}{
		{nil, map[string]uint32{"hash": 10240, "lru": 10240, "array": 10240, "sized": 8, "stacks": 16384, "rb": 256 << 10, "perf": 0, ".bss": 1}},
		{[]string{"100"}, map[string]uint32{"hash": 100, "lru": 100, "array": 100, "sized": 8, "stacks": 100, "rb": 256 << 10, "perf": 0, ".bss": 1}},
		{[]string{"sized=3", "rb=4096", "hash=9"}, map[string]uint32{"hash": 9, "lru": 10240, "array": 10240, "sized": 3, "stacks": 16384, "rb": 4096, "perf": 0, ".bss": 1}},
	} {
		s := spec()
		sizes, err := ParseMaxEntries(c.flags)
		if err != nil {
			t.Fatal(err)
		}
		if err := SizeMaps(s, sizes); err != nil {
			t.Fatal(err)
		}
		PrepareMaps(s)
		got := size(s)
		for n, w := range c.want {
			if got[n] != w {
				t.Errorf("%v: %s has %d entries, want %d", c.flags, n, got[n], w)
			}
		}
	}
	for _, c := range []struct{ flag, want string }{
		{"nope=3", "--max-entries nope=3: the object has no map nope (it has .bss, array, hash, lru, perf, rb, sized, stacks)"},
		{"perf=3", "perf is a perf event array"},
	} {
		sizes, _ := ParseMaxEntries([]string{c.flag})
		if err := SizeMaps(spec(), sizes); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.flag, err)
		}
	}
}
