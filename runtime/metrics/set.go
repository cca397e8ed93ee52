package metrics

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxSeries is how many label sets one metric gets by default
// (ecli run --metrics-max-series).
const DefaultMaxSeries = 1000

// Other is the value every label takes in the series that label sets
// beyond the cap fold into.
const Other = "other"

// maxOverflowTracked bounds the memory spent remembering which label sets
// went over the cap (to count each once).
const maxOverflowTracked = 1 << 16

// Set is the metrics of one run, a [prometheus.Collector]: histograms and
// values read from maps at scrape time (each family's Read), and event
// counters read from the readers' own counts. Its families are known only
// once the package is loaded, so it describes none up front (an
// unchecked collector); the registry still checks what it collects.
type Set struct {
	// MaxSeries caps the label sets of each metric (0: DefaultMaxSeries).
	MaxSeries int

	// mu: Collect holds it shared; Close takes it, so that no read runs
	// after the maps it reads are freed.
	mu       sync.RWMutex
	closed   bool
	families []family
	names    map[string]bool
	buffers  []buffer
	before   []func()
	dropped  *prometheus.CounterVec

	eventsDesc, lostDesc *prometheus.Desc
}

type family interface {
	name() string
	collect(ch chan<- prometheus.Metric)
}

type buffer struct {
	name         string
	events, lost func() uint64
}

// NewSet returns an empty set.
func NewSet(maxSeries int) *Set {
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	return &Set{
		MaxSeries: maxSeries,
		names:     map[string]bool{},
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ecli_metrics_dropped_series_total",
			Help: "Label sets of a metric beyond --metrics-max-series: folded into the series whose labels are all \"other\" (histograms, counters) or dropped (gauges), each counted once.",
		}, []string{"metric"}),
		eventsDesc: prometheus.NewDesc("ecli_events_total", "Records read from a ring buffer or perf event array (before --filter).", []string{"buffer"}, nil),
		lostDesc:   prometheus.NewDesc("ecli_lost_events_total", "Records the kernel dropped because a perf event array was full (ring buffers report none: their programs see the failed reserve).", []string{"buffer"}, nil),
	}
}

// AddBuffer exposes the counts of one ring buffer or perf event array:
// events and lost are read at scrape time (atomic counters the reader
// keeps anyway, so counting costs the events nothing more).
func (s *Set) AddBuffer(name string, events, lost func() uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buffers = append(s.buffers, buffer{name, events, lost})
}

// uniqueName returns name, or name_2, name_3... when a family has it.
func (s *Set) uniqueName(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := name
	for i := 2; s.names[n]; i++ {
		n = name + "_" + itoa(i)
	}
	s.names[n] = true
	return n
}

// BeforeCollect adds a function each scrape calls before the families
// send their metrics: one read that updates several families.
func (s *Set) BeforeCollect(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before = append(s.before, f)
}

func (s *Set) add(f family) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.families = append(s.families, f)
}

// Close ends the reads: it waits for a scrape under way, and later
// scrapes read nothing (the maps are about to be freed).
func (s *Set) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// Describe describes nothing: the set is an unchecked collector.
func (s *Set) Describe(chan<- *prometheus.Desc) {}

// Collect reads every family's map and sends its metrics.
func (s *Set) Collect(ch chan<- prometheus.Metric) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	for _, f := range s.before {
		f()
	}
	for _, b := range s.buffers {
		ch <- prometheus.MustNewConstMetric(s.eventsDesc, prometheus.CounterValue, float64(b.events()), b.name)
		if b.lost != nil {
			ch <- prometheus.MustNewConstMetric(s.lostDesc, prometheus.CounterValue, float64(b.lost()), b.name)
		}
	}
	for _, f := range s.families {
		f.collect(ch)
	}
	s.dropped.Collect(ch)
}

// limiter assigns label sets to series up to the cap.
type limiter struct {
	set    *Set
	metric string
	// own are the label sets that have a series of their own.
	own  map[string]bool
	over map[uint64]bool
}

func newLimiter(s *Set, metric string) limiter {
	return limiter{set: s, metric: metric, own: map[string]bool{}, over: map[uint64]bool{}}
}

var seed = maphash.MakeSeed()

// foldKey is the key of the series label sets beyond the cap fold into:
// no label set joins to it (label values are text, without NUL).
const foldKey = "\x00\xff"

// series returns the key of the series a label set counts in: its own,
// or foldKey beyond the cap; ok is false for the folded
// one.
func (l *limiter) series(key string) (string, bool) {
	if l.own[key] {
		return key, true
	}
	if len(l.own) < l.set.MaxSeries {
		l.own[key] = true
		return key, true
	}
	h := maphash.String(seed, key)
	if !l.over[h] && len(l.over) < maxOverflowTracked {
		l.over[h] = true
		l.set.dropped.WithLabelValues(l.metric).Inc()
	}
	return foldKey, false
}

// forget lets a label set's series go (a gauge whose entry is gone), so
// that another may take its place under the cap.
func (l *limiter) forget(key string) { delete(l.own, key) }

// labelKey joins label values into a map key.
func labelKey(values []string) string {
	return strings.Join(values, "\xff")
}

func otherLabels(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = Other
	}
	return out
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			break
		}
	}
	return string(b[n:])
}
