package runtime

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"

	dto "github.com/prometheus/client_model/go"

	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/runtime/metrics"
)

// scrape GETs /metrics and parses it with Prometheus' text parser.
func scrape(t *testing.T, srv *metrics.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + srv.Addr() + metrics.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", metrics.MetricsPath, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", metrics.MetricsPath, err)
	}
	return mfs
}

func healthz(t *testing.T, srv *metrics.Server) int {
	t.Helper()
	resp, err := http.Get("http://" + srv.Addr() + metrics.HealthPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// series returns the metric of family name whose labels include want, or nil.
func series(mfs map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	mf := mfs[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

// checkBuckets: le bounds rise, cumulative counts never fall, and the
// last is at most the count.
func checkBuckets(t *testing.T, what string, h *dto.Histogram) {
	t.Helper()
	if len(h.GetBucket()) == 0 {
		t.Fatalf("%s: no buckets", what)
	}
	var le float64 = -1
	var prev uint64
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() <= le || b.GetCumulativeCount() < prev {
			t.Errorf("%s: bucket le=%v count %d after le=%v count %d", what, b.GetUpperBound(), b.GetCumulativeCount(), le, prev)
		}
		le, prev = b.GetUpperBound(), b.GetCumulativeCount()
	}
	if prev > h.GetSampleCount() {
		t.Errorf("%s: last bucket %d > count %d", what, prev, h.GetSampleCount())
	}
}

// ecli run --metrics on a program that counts the sizes of this process'
// reads (a log2 @sample map and a key-value map, both cleared every
// 200 ms) and sends an event per read: the scrape has a histogram with le
// buckets in bytes and a non-zero count that keeps growing across the
// clears, a counter per thread, and an events counter that grows; with
// --quiet nothing is printed; /healthz is 200 while attached.
func TestMetricsServeKernel(t *testing.T) {
	src := buildPackage(t, filepath.Join("testdata", "metrics", "readsize.bpf.c"), "")
	srv, err := metrics.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if code := healthz(t, srv); code != http.StatusServiceUnavailable {
		t.Errorf("%s before the run: %d, want 503", metrics.HealthPath, code)
	}
	pid := strconv.Itoa(os.Getpid())
	r := start(t, src, []string{"--tgid", pid}, Options{Quiet: true, Metrics: srv})
	if code := healthz(t, srv); code != http.StatusOK {
		t.Errorf("%s once attached: %d, want 200", metrics.HealthPath, code)
	}

	// Reads of 3000 bytes (slot 11: 2048..4095) and of 0 at EOF (slot 0),
	// from one locked thread, until the test ends.
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, make([]byte, 3000), 0o644); err != nil {
		t.Fatal(err)
	}
	stop, tidc := make(chan struct{}), make(chan int, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tidc <- unix.Gettid()
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.ReadFile(file)
			time.Sleep(time.Millisecond)
		}
	}()
	defer close(stop)
	tid := strconv.Itoa(<-tidc)

	const histName = "ecli_readsize_sizes_bytes"
	var first map[string]*dto.MetricFamily
	deadline := time.Now().Add(10 * time.Second)
	for {
		first = scrape(t, srv)
		if m := series(first, histName, map[string]string{"key": pid}); m != nil && m.GetHistogram().GetSampleCount() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s{key=%q} with a count after 10s; families: %v", histName, pid, names(first))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(700 * time.Millisecond) // the maps are cleared three times
	second := scrape(t, srv)

	if mf := second[histName]; mf.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("%s is a %v, want a histogram", histName, mf.GetType())
	}
	h1 := series(first, histName, map[string]string{"key": pid}).GetHistogram()
	h2 := series(second, histName, map[string]string{"key": pid}).GetHistogram()
	checkBuckets(t, "first scrape", h1)
	checkBuckets(t, "second scrape", h2)
	if h2.GetSampleCount() <= h1.GetSampleCount() {
		t.Errorf("%s count %d then %d: it must keep growing across the clears", histName, h1.GetSampleCount(), h2.GetSampleCount())
	}
	// 3000-byte reads are in the bucket le=4095, not in le=2047.
	bucket := func(h *dto.Histogram, le float64) uint64 {
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == le {
				return b.GetCumulativeCount()
			}
		}
		t.Fatalf("no bucket le=%v", le)
		return 0
	}
	if bucket(h2, 4095) <= bucket(h2, 2047) {
		t.Errorf("le=4095 has %d, le=2047 %d: the 3000-byte reads are missing", bucket(h2, 4095), bucket(h2, 2047))
	}
	for i, b := range h1.GetBucket() {
		if b2 := h2.GetBucket()[i]; b2.GetCumulativeCount() < b.GetCumulativeCount() {
			t.Errorf("bucket le=%v went down: %d then %d", b.GetUpperBound(), b.GetCumulativeCount(), b2.GetCumulativeCount())
		}
	}

	// The key-value map, cleared, is a counter per thread.
	const readsName = "ecli_readsize_reads_total"
	c1 := series(first, readsName, map[string]string{"key": tid})
	c2 := series(second, readsName, map[string]string{"key": tid})
	if second[readsName].GetType() != dto.MetricType_COUNTER || c2 == nil {
		t.Fatalf("no counter %s{key=%q}: %v", readsName, tid, names(second))
	}
	if c1 != nil && c2.GetCounter().GetValue() <= c1.GetCounter().GetValue() {
		t.Errorf("%s %v then %v: it must keep growing across the clears", readsName, c1.GetCounter().GetValue(), c2.GetCounter().GetValue())
	}

	e1 := series(first, "ecli_events_total", map[string]string{"buffer": "rb"})
	e2 := series(second, "ecli_events_total", map[string]string{"buffer": "rb"})
	if e1 == nil || e2 == nil || e2.GetCounter().GetValue() <= e1.GetCounter().GetValue() {
		t.Errorf("ecli_events_total{buffer=\"rb\"}: %v then %v, want growing", e1, e2)
	}
	if second["go_goroutines"] == nil || second["process_resident_memory_bytes"] == nil {
		t.Errorf("ecli's own Go and process metrics are missing: %v", names(second))
	}

	r.stop(t)
	if out := r.out.String(); out != "" {
		t.Errorf("--quiet printed %q", tail(out, 500))
	}
	if code := healthz(t, srv); code != http.StatusServiceUnavailable {
		t.Errorf("%s after the run: %d, want 503", metrics.HealthPath, code)
	}
	if mfs := scrape(t, srv); mfs[histName] != nil || mfs["ecli_events_total"] != nil {
		t.Errorf("the run's metrics outlive it: %v", names(mfs))
	}
}

// Results found without @sample (testdata/idioms/results.bpf.c): the
// histogram map per key, the per-CPU counter map, the counter global and
// the array of histogram globals are all served.
func TestMetricsResultsKernel(t *testing.T) {
	src := buildIdiom(t, "results")
	srv, err := metrics.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tid := sleepOnThreadLater(t)
	r := start(t, src, []string{"--targ_tid", strconv.Itoa(tid.id)}, Options{JSON: true, Metrics: srv})
	close(tid.go_)
	<-tid.done
	pid := strconv.Itoa(os.Getpid())
	mfs := scrape(t, srv)
	h := series(mfs, "ecli_results_hists_usecs", map[string]string{"key": pid})
	if h == nil {
		t.Fatalf("no ecli_results_hists_usecs{key=%q}: %v", pid, names(mfs))
	}
	checkBuckets(t, "hists", h.GetHistogram())
	// The value's comm is a label beside the key, as the text heading
	// shows it ("key = PID comm=NAME").
	comm := ""
	for _, l := range h.GetLabel() {
		if l.GetName() == "comm" {
			comm = l.GetValue()
		}
	}
	if want := filepath.Base(os.Args[0]); len(want) > 15 && comm != want[:15] || len(want) <= 15 && comm != want {
		t.Errorf("hists comm label %q, want %q", comm, want)
	}
	if n := h.GetHistogram().GetSampleCount(); n != 20 {
		t.Errorf("hists count %d, want 20 sleeps", n)
	}
	if c := series(mfs, "ecli_results_counts_total", map[string]string{"key": pid}); c == nil || c.GetCounter().GetValue() != 20 {
		t.Errorf("ecli_results_counts_total{key=%q} = %v, want 20 (per-CPU values summed)", pid, c)
	}
	if c := series(mfs, "ecli_results_calls_total", nil); c == nil || c.GetCounter().GetValue() < 20 {
		t.Errorf("ecli_results_calls_total = %v, want ≥ 20", c)
	}
	var parity uint64
	for _, i := range []string{"0", "1"} {
		if m := series(mfs, "ecli_results_by_parity_usecs", map[string]string{"index": i}); m != nil {
			checkBuckets(t, "by_parity", m.GetHistogram())
			parity += m.GetHistogram().GetSampleCount()
		}
	}
	if parity != 20 {
		t.Errorf("by_parity counts %d, want 20: %v", parity, names(mfs))
	}
	r.stop(t)
}

type parkedThread struct {
	id        int
	go_, done chan struct{}
}

// sleepOnThreadLater starts a thread that makes 20 3 ms sleeps once go_
// is closed, and returns its id at once.
func sleepOnThreadLater(t *testing.T) *parkedThread {
	p := &parkedThread{go_: make(chan struct{}), done: make(chan struct{})}
	idc := make(chan int)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(p.done)
		idc <- unix.Gettid()
		<-p.go_
		ts := unix.NsecToTimespec((3 * time.Millisecond).Nanoseconds())
		for range 20 {
			unix.ClockNanosleep(unix.CLOCK_MONOTONIC, 0, &ts, nil)
		}
	}()
	p.id = <-idc
	return p
}

func names(mfs map[string]*dto.MetricFamily) []string {
	var out []string
	for n := range mfs {
		if len(n) > 5 && n[:5] == "ecli_" {
			out = append(out, n)
		}
	}
	return out
}

// -q with -o FILE: the file gets the events as without -q, stdout nothing.
func TestQuietOutputFileKernel(t *testing.T) {
	src := buildPackage(t, filepath.Join("testdata", "metrics", "readsize.bpf.c"), "")
	file := filepath.Join(t.TempDir(), "events.json")
	data := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(data, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := runFor(t, src, []string{"--tgid", strconv.Itoa(os.Getpid())}, Options{Quiet: true, JSON: true, OutputFile: file, Duration: time.Second}, func() {
		for range 20 {
			os.ReadFile(data)
		}
	})
	if out != "" {
		t.Errorf("stdout %q", tail(out, 300))
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range testenv.JSONLines(string(b)) {
		if num(m["ret"]) == 100 {
			n++
		}
	}
	if n < 20 {
		t.Errorf("%d events of 100-byte reads in %s, want ≥ 20:\n%s", n, file, tail(string(b), 1000))
	}
}
