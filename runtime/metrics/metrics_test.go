package metrics

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// A log2 histogram: le bounds are the highest value of each slot in the
// map's unit (1, 3, 7...), buckets cumulative, labels from the key.
func TestHistogramBuckets(t *testing.T) {
	s := NewSet(0)
	h := s.NewHistogram(HistogramOpts{Name: Name("runqlat", "hists", "usecs"), Help: "run queue latency", Labels: LabelNames([]string{"comm"})})
	h.Update([]HistEntry{{Labels: []string{"bash"}, Slots: []uint64{1, 0, 2, 4}}}, false)
	want := `
# HELP ecli_runqlat_hists_usecs run queue latency
# TYPE ecli_runqlat_hists_usecs histogram
ecli_runqlat_hists_usecs_bucket{comm="bash",le="1"} 1
ecli_runqlat_hists_usecs_bucket{comm="bash",le="3"} 1
ecli_runqlat_hists_usecs_bucket{comm="bash",le="7"} 3
ecli_runqlat_hists_usecs_bucket{comm="bash",le="15"} 7
ecli_runqlat_hists_usecs_bucket{comm="bash",le="+Inf"} 7
ecli_runqlat_hists_usecs_sum{comm="bash"} 57.5
ecli_runqlat_hists_usecs_count{comm="bash"} 7
`
	if err := testutil.CollectAndCompare(s, strings.NewReader(want), "ecli_runqlat_hists_usecs"); err != nil {
		t.Error(err)
	}
}

// Linear histograms: one bucket per step.
func TestHistogramLinear(t *testing.T) {
	s := NewSet(0)
	h := s.NewHistogram(HistogramOpts{Name: Name("p", "lin"), Help: "h", Linear: true, Base: 0, Step: 10})
	h.Update([]HistEntry{{Slots: []uint64{1, 2}}}, false)
	want := `
# HELP ecli_p_lin h
# TYPE ecli_p_lin histogram
ecli_p_lin_bucket{le="9"} 1
ecli_p_lin_bucket{le="19"} 3
ecli_p_lin_bucket{le="+Inf"} 3
ecli_p_lin_sum 33.5
ecli_p_lin_count 3
`
	if err := testutil.CollectAndCompare(s, strings.NewReader(want), "ecli_p_lin"); err != nil {
		t.Error(err)
	}
}

// A map cleared every interval: what the clearing reads took is kept, so
// buckets and counts never go down, whatever the order of scrapes and
// clears.
func TestHistogramCumulativeAcrossClears(t *testing.T) {
	s := NewSet(0)
	h := s.NewHistogram(HistogramOpts{Name: "ecli_x", Help: "h", Labels: []string{"k"}})
	count := func() uint64 {
		t.Helper()
		mfs, err := gatherSet(s)
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, m := range mfs["ecli_x"].GetMetric() {
			n += m.GetHistogram().GetSampleCount()
		}
		return n
	}
	h.Update([]HistEntry{{Labels: []string{"a"}, Slots: []uint64{1, 1}}}, false) // scrape: map has 2
	if got := count(); got != 2 {
		t.Fatalf("count %d, want 2", got)
	}
	h.Update([]HistEntry{{Labels: []string{"a"}, Slots: []uint64{2, 1}}}, true) // print + clear: 3 taken out
	if got := count(); got != 3 {
		t.Fatalf("after a clear: count %d, want 3", got)
	}
	h.Update(nil, false) // scrape of the empty map
	if got := count(); got != 3 {
		t.Fatalf("empty map after a clear: count %d, want 3", got)
	}
	h.Update([]HistEntry{{Labels: []string{"a"}, Slots: []uint64{0, 0, 5}}, {Labels: []string{"b"}, Slots: []uint64{1}}}, false)
	if got := count(); got != 9 {
		t.Fatalf("after new counts: count %d, want 9", got)
	}
	// An entry that vanished without a clearing read (an LRU map evicting
	// it) does not take the count down either.
	h.Update(nil, false)
	if got := count(); got != 9 {
		t.Fatalf("after eviction: count %d, want 9", got)
	}
}

func gatherSet(s *Set) (map[string]*dto.MetricFamily, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(s); err != nil {
		return nil, err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out, nil
}

// Counters of a cleared map add up across clears; gauges show the last
// value, kept after a clear, gone from a map that is not cleared.
func TestValuesCountersAndGauges(t *testing.T) {
	s := NewSet(0)
	c := s.NewValues(ValuesOpts{Name: "ecli_p_counts_total", Help: "c", Labels: []string{"pid"}, Counter: true})
	g := s.NewValues(ValuesOpts{Name: "ecli_p_last", Help: "g", Labels: []string{"pid"}, Kept: true})
	live := s.NewValues(ValuesOpts{Name: "ecli_p_live", Help: "g", Labels: []string{"pid"}})
	c.Update([]ValueEntry{{[]string{"1"}, 5}}, true)
	c.Update([]ValueEntry{{[]string{"1"}, 2}}, false)
	g.Update([]ValueEntry{{[]string{"1"}, 42}}, true)
	g.Update(nil, false)
	live.Update([]ValueEntry{{[]string{"1"}, 7}, {[]string{"2"}, 8}}, false)
	live.Update([]ValueEntry{{[]string{"2"}, 9}}, false)
	want := `
# HELP ecli_p_counts_total c
# TYPE ecli_p_counts_total counter
ecli_p_counts_total{pid="1"} 7
# HELP ecli_p_last g
# TYPE ecli_p_last gauge
ecli_p_last{pid="1"} 42
# HELP ecli_p_live g
# TYPE ecli_p_live gauge
ecli_p_live{pid="2"} 9
`
	if err := testutil.CollectAndCompare(s, strings.NewReader(want), "ecli_p_counts_total", "ecli_p_last", "ecli_p_live"); err != nil {
		t.Error(err)
	}
}

// Beyond the cap, histograms and counters fold into the "other" series;
// gauges drop; each label set over the cap is counted once.
func TestCardinalityCap(t *testing.T) {
	s := NewSet(3)
	h := s.NewHistogram(HistogramOpts{Name: "ecli_h", Help: "h", Labels: []string{"pid", "comm"}})
	g := s.NewValues(ValuesOpts{Name: "ecli_g", Help: "g", Labels: []string{"pid"}})
	var hs []HistEntry
	var gs []ValueEntry
	for i := range 10 {
		hs = append(hs, HistEntry{Labels: []string{fmt.Sprint(i), "c"}, Slots: []uint64{1}})
		gs = append(gs, ValueEntry{Labels: []string{fmt.Sprint(i)}, Value: float64(i)})
	}
	h.Update(hs, false)
	h.Update(hs, false) // the same sets again: counted once
	g.Update(gs, false)
	if n := testutil.CollectAndCount(s, "ecli_h"); n != 4 {
		t.Errorf("histogram series %d, want 3 + other", n)
	}
	if n := testutil.CollectAndCount(s, "ecli_g"); n != 3 {
		t.Errorf("gauge series %d, want 3", n)
	}
	mfs, err := gatherSet(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mfs["ecli_h"].GetMetric() {
		if m.GetLabel()[0].GetValue() == Other {
			if got := m.GetHistogram().GetSampleCount(); got != 7 {
				t.Errorf("other series counts %d, want 7", got)
			}
			if m.GetLabel()[1].GetValue() != Other {
				t.Errorf("other series labels %v", m.GetLabel())
			}
		}
	}
	want := `
# HELP ecli_metrics_dropped_series_total Label sets of a metric beyond --metrics-max-series: folded into the series whose labels are all "other" (histograms, counters) or dropped (gauges), each counted once.
# TYPE ecli_metrics_dropped_series_total counter
ecli_metrics_dropped_series_total{metric="ecli_g"} 7
ecli_metrics_dropped_series_total{metric="ecli_h"} 7
`
	if err := testutil.CollectAndCompare(s, strings.NewReader(want), "ecli_metrics_dropped_series_total"); err != nil {
		t.Error(err)
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct {
		parts []string
		want  string
	}{
		{[]string{"runqlat", "hists", "usecs"}, "ecli_runqlat_hists_usecs"},
		{[]string{"my-tool", ".bss", "n"}, "ecli_my_tool_bss_n"},
		{[]string{"tool", "counts", ""}, "ecli_tool_counts"},
		{[]string{"tcp.v4", "µs lat"}, "ecli_tcp_v4_s_lat"},
		{[]string{"9p", "x__y"}, "ecli_9p_x_y"},
	} {
		if got := Name(c.parts...); got != c.want {
			t.Errorf("Name(%q) = %q, want %q", c.parts, got, c.want)
		}
		if !strings.HasPrefix(c.want, "ecli_") || strings.ContainsAny(c.want, ".- ") {
			t.Errorf("bad want %q", c.want)
		}
	}
	got := LabelNames([]string{"pid", "le", "", "2nd", "pid", "__x"})
	want := []string{"pid", "key_le", "key", "_2nd", "pid_2", "x"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("LabelNames = %q, want %q", got, want)
	}
	for n, want := range map[string]bool{"counts": true, "rx_bytes": true, "nrCalls": true, "latency": false, "slots": false, "max_lat": false, "account": false} {
		if IsCount(n) != want {
			t.Errorf("IsCount(%q) = %v", n, !want)
		}
	}
	// Two maps whose names sanitize alike get distinct metrics.
	s := NewSet(0)
	a := s.NewValues(ValuesOpts{Name: Name("p", "a.b"), Help: "x"})
	b := s.NewValues(ValuesOpts{Name: Name("p", "a_b"), Help: "x"})
	if a.name() == b.name() {
		t.Errorf("both named %s", a.name())
	}
}

// Event counters are read from the readers' own counts at scrape time.
func TestBufferCounters(t *testing.T) {
	s := NewSet(0)
	var n uint64
	s.AddBuffer("rb", func() uint64 { return n }, nil)
	s.AddBuffer("events", func() uint64 { return 3 }, func() uint64 { return 1 })
	n = 10
	want := `
# HELP ecli_events_total Records read from a ring buffer or perf event array (before --filter).
# TYPE ecli_events_total counter
ecli_events_total{buffer="events"} 3
ecli_events_total{buffer="rb"} 10
# HELP ecli_lost_events_total Records the kernel dropped because a perf event array was full (ring buffers report none: their programs see the failed reserve).
# TYPE ecli_lost_events_total counter
ecli_lost_events_total{buffer="events"} 1
`
	if err := testutil.CollectAndCompare(s, strings.NewReader(want), "ecli_events_total", "ecli_lost_events_total"); err != nil {
		t.Error(err)
	}
	s.Close()
	if n := testutil.CollectAndCount(s); n != 0 {
		t.Errorf("a closed set collects %d metrics", n)
	}
}

func TestCheckAddr(t *testing.T) {
	for _, a := range []string{":9090", "127.0.0.1:9090", "[::1]:0", "localhost:80"} {
		if err := CheckAddr(a); err != nil {
			t.Errorf("CheckAddr(%q): %v", a, err)
		}
	}
	for _, a := range []string{"9090", "127.0.0.1", ":http", ":99999", "a b:1", ""} {
		var ae *AddrError
		if err := CheckAddr(a); !errors.As(err, &ae) {
			t.Errorf("CheckAddr(%q) = %v, want an AddrError", a, err)
		}
	}
}

// The server: /healthz answers 503 until ready, /metrics serves the Go
// and process collectors and a registered set; a port in use is one
// error from Listen; Close stops it.
func TestServer(t *testing.T) {
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(HealthPath); code != http.StatusServiceUnavailable {
		t.Errorf("%s before ready: %d", HealthPath, code)
	}
	set := NewSet(0)
	set.AddBuffer("rb", func() uint64 { return 5 }, nil)
	if err := s.Register(set); err != nil {
		t.Fatal(err)
	}
	s.SetReady(true)
	if code, _ := get(HealthPath); code != http.StatusOK {
		t.Errorf("%s when ready: %d", HealthPath, code)
	}
	code, body := get(MetricsPath)
	for _, want := range []string{`ecli_events_total{buffer="rb"} 5`, "go_goroutines", "process_resident_memory_bytes"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d, lacks %q", MetricsPath, code, want)
		}
	}
	_, err = Listen(s.Addr())
	if err == nil || !strings.Contains(err.Error(), "address already in use") || strings.Count(err.Error(), "\n") > 0 {
		t.Errorf("second Listen on %s: %v", s.Addr(), err)
	}
	addr := s.Addr()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Close", addr)
	}
}

// A label set whose values are empty is a series of its own, not the
// folded one.
func TestEmptyLabelIsNotOther(t *testing.T) {
	s := NewSet(1)
	h := s.NewHistogram(HistogramOpts{Name: "ecli_e", Help: "h", Labels: []string{"comm"}})
	h.Update([]HistEntry{{Labels: []string{""}, Slots: []uint64{1}}, {Labels: []string{"x"}, Slots: []uint64{2}}}, false)
	mfs, err := gatherSet(s)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, m := range mfs["ecli_e"].GetMetric() {
		got[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
	}
	if len(got) != 2 || got[""] != 1 || got[Other] != 2 {
		t.Errorf("series %v, want comm=\"\" 1 and comm=other 2", got)
	}
}
