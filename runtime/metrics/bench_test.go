package metrics

import (
	"io"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// A scrape of a histogram of 1000 series of 26 slots, without the map
// read: Update with what a read found, Gather, and the text format.
func BenchmarkCollectHistogram1000(b *testing.B) {
	s := NewSet(1000)
	entries := make([]HistEntry, 1000)
	for i := range entries {
		slots := make([]uint64, 26)
		for j := range slots {
			slots[j] = uint64(i + j)
		}
		entries[i] = HistEntry{Labels: []string{strconv.Itoa(i)}, Slots: slots}
	}
	var h *Histogram
	h = s.NewHistogram(HistogramOpts{Name: "ecli_b", Help: "b", Labels: []string{"pid"}, Read: func() { h.Update(entries, false) }})
	reg := prometheus.NewRegistry()
	reg.MustRegister(s)
	b.ReportAllocs()
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			enc.Encode(mf)
		}
	}
}
