package metrics

import (
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ecc-bpf/ecc/runtime/hist"
)

// HistogramOpts describe a histogram map (or global).
type HistogramOpts struct {
	// Name is the metric's name, already made of [Name]'s parts.
	Name, Help string
	// Labels name the key's fields (label names made by [LabelNames]).
	Labels []string
	// Linear: slots of width Step from Base; else log2 slots (slot 0:
	// 0 and 1, slot i: 2^i to 2^(i+1)-1), as runtime/hist prints them.
	Linear     bool
	Base, Step uint64
	// Read, when set, is called at each scrape before the metrics are
	// sent: it reads the map and calls [Histogram.Update].
	Read func()
}

// Histogram is one histogram metric: a series per key of the map.
type Histogram struct {
	opts HistogramOpts
	desc *prometheus.Desc
	set  *Set

	mu  sync.Mutex
	lim limiter
	// series by label key (foldKey: the series beyond the cap).
	series map[string]*histSeries
	// nslots: the buckets every series shows, up to the highest slot
	// ever counted, so that all series have the same buckets.
	nslots int
}

type histSeries struct {
	labels []string
	// base: counts taken out of the map by clearing reads; raw: what the
	// last read found; shown: what was last exposed (never decreasing).
	base, raw, shown []uint64
}

// HistEntry is one key of a histogram map as read: its label values and
// slot counts.
type HistEntry struct {
	Labels []string
	Slots  []uint64
}

// NewHistogram adds a histogram to the set.
func (s *Set) NewHistogram(o HistogramOpts) *Histogram {
	o.Name = s.uniqueName(o.Name)
	h := &Histogram{opts: o, set: s, series: map[string]*histSeries{},
		desc: prometheus.NewDesc(o.Name, o.Help, o.Labels, nil)}
	h.lim = newLimiter(s, o.Name)
	s.add(h)
	return h
}

func (h *Histogram) name() string { return h.opts.Name }

// Update records a read of the map. cleared says the read emptied the map
// (clear_map, --interval): what it found is added to the running totals,
// so the exposed counts never go down. Entries not in entries count zero
// since the last clearing read.
func (h *Histogram) Update(entries []HistEntry, cleared bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.series {
		clear(s.raw)
	}
	for _, e := range entries {
		key, own := h.lim.series(labelKey(e.Labels))
		s := h.series[key]
		if s == nil {
			labels := e.Labels
			if !own {
				labels = otherLabels(len(h.opts.Labels))
			}
			s = &histSeries{labels: slices.Clone(labels)}
			h.series[key] = s
		}
		for i, c := range e.Slots {
			if c == 0 {
				continue
			}
			for len(s.raw) <= i {
				s.raw = append(s.raw, 0)
			}
			s.raw[i] += c
			h.nslots = max(h.nslots, i+1)
		}
	}
	for _, s := range h.series {
		for len(s.base) < len(s.raw) {
			s.base = append(s.base, 0)
		}
		for len(s.shown) < len(s.raw) {
			s.shown = append(s.shown, 0)
		}
		for i, c := range s.raw {
			s.shown[i] = max(s.shown[i], s.base[i]+c)
			if cleared {
				s.base[i] += c
				s.raw[i] = 0
			}
		}
	}
}

// bound is the le of slot i: the highest value it counts, in the map's
// unit; mid the middle of its values, for the sum.
func (h *Histogram) bound(i int) (le, mid float64) {
	var lo, hi uint64
	if h.opts.Linear {
		lo, hi = hist.LinearBounds(h.opts.Base, h.opts.Step, i)
	} else {
		lo, hi = hist.Log2Bounds(i)
	}
	return float64(hi), (float64(lo) + float64(hi)) / 2
}

func (h *Histogram) collect(ch chan<- prometheus.Metric) {
	if h.opts.Read != nil {
		h.opts.Read()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	les := make([]float64, h.nslots)
	mids := make([]float64, h.nslots)
	for i := range les {
		les[i], mids[i] = h.bound(i)
	}
	for _, k := range slices.Sorted(maps.Keys(h.series)) {
		s := h.series[k]
		buckets := make(map[float64]uint64, h.nslots)
		var count uint64
		var sum float64
		for i := range h.nslots {
			if i < len(s.shown) {
				count += s.shown[i]
				sum += float64(s.shown[i]) * mids[i]
			}
			if les[i] < math.MaxFloat64 && (i == 0 || les[i] != les[i-1]) {
				buckets[les[i]] = count
			}
		}
		ch <- prometheus.MustNewConstHistogram(h.desc, count, sum, buckets, s.labels...)
	}
}

// ValuesOpts describe one number of a key-value map's values (or a
// global): a gauge, or a counter.
type ValuesOpts struct {
	Name, Help string
	Labels     []string
	// Counter: the number only grows (counts); clearing reads add to a
	// running total. Else a gauge: the value last read.
	Counter bool
	// Kept: the map is cleared by ecli, so a gauge keeps its value after
	// its entry is gone (until the entry comes back); in a map that is not
	// cleared, a gauge whose entry is gone is gone too.
	Kept bool
	Read func()
}

// Values is one number per key of a map.
type Values struct {
	opts ValuesOpts
	desc *prometheus.Desc
	typ  prometheus.ValueType

	mu     sync.Mutex
	lim    limiter
	series map[string]*valueSeries
}

type valueSeries struct {
	labels           []string
	base, raw, shown float64
	seen             bool
}

// ValueEntry is one key of a map as read: its label values and number.
type ValueEntry struct {
	Labels []string
	Value  float64
}

// NewValues adds a gauge or counter to the set.
func (s *Set) NewValues(o ValuesOpts) *Values {
	o.Name = s.uniqueName(o.Name)
	v := &Values{opts: o, series: map[string]*valueSeries{}, typ: prometheus.GaugeValue,
		desc: prometheus.NewDesc(o.Name, o.Help, o.Labels, nil)}
	if o.Counter {
		v.typ = prometheus.CounterValue
	}
	v.lim = newLimiter(s, o.Name)
	s.add(v)
	return v
}

func (v *Values) name() string { return v.opts.Name }

// SetRead sets the function a scrape calls before sending the values (a
// map read once for several families sets it on one); call it before the
// set is registered.
func (v *Values) SetRead(read func()) { v.opts.Read = read }

// Update records a read of the map (see [Histogram.Update]).
func (v *Values) Update(entries []ValueEntry, cleared bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range v.series {
		s.raw, s.seen = 0, false
	}
	for _, e := range entries {
		key, own := v.lim.series(labelKey(e.Labels))
		if !own && !v.opts.Counter {
			continue // a gauge beyond the cap: dropped (counted)
		}
		s := v.series[key]
		if s == nil {
			labels := e.Labels
			if !own {
				labels = otherLabels(len(v.opts.Labels))
			}
			s = &valueSeries{labels: slices.Clone(labels)}
			v.series[key] = s
		}
		s.raw += e.Value
		s.seen = true
	}
	for key, s := range v.series {
		if !v.opts.Counter {
			switch {
			case s.seen:
				s.shown = s.raw
			case !v.opts.Kept:
				delete(v.series, key)
				v.lim.forget(key)
			}
			continue
		}
		s.shown = max(s.shown, s.base+s.raw)
		if cleared {
			s.base += s.raw
			s.raw = 0
		}
	}
}

func (v *Values) collect(ch chan<- prometheus.Metric) {
	if v.opts.Read != nil {
		v.opts.Read()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(v.series)) {
		s := v.series[k]
		ch <- prometheus.MustNewConstMetric(v.desc, v.typ, s.shown, s.labels...)
	}
}
