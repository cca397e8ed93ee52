package e2e

import (
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ecli run --metrics through the real binary: the examples' histogram and
// events as Prometheus metrics, /healthz, --quiet, and the address errors.

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func getMetrics(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

func TestMetricsRunqlat(t *testing.T) {
	addr := freeAddr(t)
	r := startEcli(t, "run", "-q", "--metrics", addr, buildExample(t, "runqlat"))
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s", resp.Status)
	}
	var h *dto.Histogram
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		exec.Command("sleep", "0.01").Run()
		mf := getMetrics(t, addr)["ecli_runqlat_hists_usecs"]
		if mf != nil && len(mf.GetMetric()) > 0 && mf.GetMetric()[0].GetHistogram().GetSampleCount() > 0 {
			if mf.GetType() != dto.MetricType_HISTOGRAM {
				t.Fatalf("ecli_runqlat_hists_usecs is a %v", mf.GetType())
			}
			h = mf.GetMetric()[0].GetHistogram()
			break
		}
	}
	if h == nil {
		t.Fatal("no ecli_runqlat_hists_usecs with a count in 20s")
	}
	var prev uint64
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() < prev {
			t.Errorf("bucket le=%v: %d after %d", b.GetUpperBound(), b.GetCumulativeCount(), prev)
		}
		prev = b.GetCumulativeCount()
	}
	r.stop(t)
	if out := r.out.String(); out != "" {
		t.Errorf("-q printed %q", tail(out, 300))
	}
	// The server is shut down with the run: the port is free again.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("%s after the run: %v", addr, err)
	} else {
		l.Close()
	}
}

func TestMetricsExecsnoopEvents(t *testing.T) {
	addr := freeAddr(t)
	r := startEcli(t, "run", "-q", "--metrics", addr, buildExample(t, "execsnoop"))
	count := func() float64 {
		for _, m := range getMetrics(t, addr)["ecli_events_total"].GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == "events" {
				return m.GetCounter().GetValue()
			}
		}
		t.Fatalf("no ecli_events_total{buffer=\"events\"}")
		return 0
	}
	before := count()
	bin := namedTrue(t, "ecc-metrics-probe")
	for range 5 {
		exec.Command(bin).Run()
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() < before+5 {
		if time.Now().After(deadline) {
			t.Fatalf("ecli_events_total{buffer=\"events\"} %v, want ≥ %v after 5 execs", count(), before+5)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.stop(t)
	if out := r.out.String(); out != "" {
		t.Errorf("-q printed %q", tail(out, 300))
	}
}

// A bad address is a usage error naming the flag; a port in use is one
// line, before anything is loaded.
func TestMetricsAddressErrors(t *testing.T) {
	pkg := repo("examples", "runqlat", "no-such-package.json")
	res := run(t, "", nil, "", ecliBin, "run", "--metrics", "9090", pkg)
	if res.status != 2 || !strings.Contains(res.stderr, "--metrics") || strings.Count(strings.TrimSpace(res.stderr), "\n") > 0 {
		t.Errorf("--metrics 9090: status %d\n%s", res.status, res.stderr)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The package does not exist: the port is checked first.
	res = run(t, "", nil, "", ecliBin, "run", "--metrics", l.Addr().String(), pkg)
	if res.status != 1 || !strings.Contains(res.stderr, "--metrics") || !strings.Contains(res.stderr, "address already in use") ||
		strings.Contains(res.stderr, "no-such-package") || strings.Count(strings.TrimSpace(res.stderr), "\n") > 0 {
		t.Errorf("--metrics on a port in use: status %d\n%s", res.status, res.stderr)
	}
}
