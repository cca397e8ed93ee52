package runtime

import (
	"encoding/binary"
	"io"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/runtime/metrics"
)

// benchScrape measures one scrape of a real BPF hash map of 1000 keys, read
// and decoded by the sampler the way a print reads it, gathered and
// written in Prometheus' text format: ns/op is one scrape.
func benchScrape(b *testing.B, typ string) {
	testenv.Kernel(b)
	u32 := &btf.Int{Name: "__u32", Size: 4}
	u64 := &btf.Int{Name: "__u64", Size: 8}
	var value btf.Type = &btf.Struct{Name: "hist", Size: 26 * 4, Members: []btf.Member{
		{Name: "slots", Type: &btf.Array{Index: u32, Type: u32, Nelems: 26}},
	}}
	if typ == packager.SampleDefaultKV {
		value = u64
	}
	size, _ := btf.Sizeof(value)
	ms := &ebpf.MapSpec{Name: "bench", Type: ebpf.Hash, KeySize: 4, ValueSize: uint32(size), MaxEntries: 1000}
	m, err := ebpf.NewMap(ms)
	if err != nil {
		b.Skipf("create a BPF map: %v", err)
	}
	defer m.Close()
	val := make([]byte, size)
	for k := uint32(0); k < 1000; k++ {
		for i := 0; i+4 <= size; i += 4 {
			binary.NativeEndian.PutUint32(val[i:], k+uint32(i))
		}
		if err := m.Put(k, val); err != nil {
			b.Fatal(err)
		}
	}
	typed := ms.Copy()
	typed.Key, typed.Value = u32, value
	r := &runner{o: &Options{Stderr: io.Discard}, spec: &ebpf.CollectionSpec{}}
	s, err := newSampler(r, "bench", m, typed, &packager.Sample{Type: typ, Unit: "usecs"})
	if err != nil {
		b.Fatal(err)
	}
	set := metrics.NewSet(1000)
	s.addMetrics(set, "bench")
	reg := prometheus.NewRegistry()
	reg.MustRegister(set)
	b.ReportAllocs()
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		if n := len(mfs[0].GetMetric()); n != 1000 {
			b.Fatalf("%d series, want 1000", n)
		}
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			enc.Encode(mf)
		}
	}
}

func BenchmarkScrapeHistMap1000(b *testing.B) { benchScrape(b, packager.SampleLog2Hist) }
func BenchmarkScrapeKVMap1000(b *testing.B)   { benchScrape(b, packager.SampleDefaultKV) }
