// Package metrics serves what ecli run reads from a package's maps as
// Prometheus metrics (ecli run --metrics ADDR; docs/metrics.md).
//
// A [Server] binds the address before anything is loaded and serves
// /metrics (client_golang's handler over a registry holding the Go
// runtime's and the process' collectors) and /healthz (200 once the
// programs are attached). A run registers one [Set], a
// prometheus.Collector read at scrape time, the way ebpf_exporter reads
// its maps: each [Histogram] or [Values] family calls back into the
// runtime, which reads its map with the same code and decoders that print
// it, and hands the entries over with Update. The runtime's own reads
// (those that print, and clear the map when it is cleared per interval)
// call Update too, so that what a clearing read takes out of the map is
// kept in a running total: counters and histogram buckets never go down.
//
// Label sets beyond Set.MaxSeries per metric fold into one series whose
// labels are all "other" (histograms, counters) or are dropped (gauges);
// either way ecli_metrics_dropped_series_total{metric} counts them.
//
// Nothing here touches the kernel: the runtime reads the maps.
package metrics
