package metrics

import (
	"strings"
)

// Prefix starts every metric name of a package's maps.
const Prefix = "ecli"

// Name joins parts into a metric name, ecli_PART_PART...: each part
// sanitized to Prometheus' rules (characters other than letters, digits
// and _ become _, runs of _ become one, and leading and trailing _ go),
// empty parts left out.
func Name(parts ...string) string {
	out := []string{Prefix}
	for _, p := range parts {
		if s := sanitize(p); s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, "_")
}

// sanitize keeps [a-zA-Z0-9_], replaces the rest with _ and squeezes
// runs of _.
func sanitize(s string) string {
	var b strings.Builder
	under := true // drop leading _
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok {
			if !under {
				b.WriteByte('_')
				under = true
			}
			continue
		}
		b.WriteRune(c)
		under = false
	}
	return strings.TrimRight(b.String(), "_")
}

// LabelNames makes label names of a key's field names: sanitized like
// [Name] (a name starting with a digit gets a leading _), "le" (which
// histograms use for their buckets) becomes "key_le", an empty one "key",
// and duplicates get _2, _3...
func LabelNames(fields []string) []string {
	out := make([]string, len(fields))
	seen := map[string]bool{"le": true}
	for i, f := range fields {
		n := sanitize(f)
		switch {
		case n == "":
			n = "key"
		case n[0] >= '0' && n[0] <= '9':
			n = "_" + n
		}
		if n == "le" {
			n = "key_le"
		}
		base := n
		for j := 2; seen[n]; j++ {
			n = base + "_" + itoa(j)
		}
		seen[n] = true
		out[i] = n
	}
	return out
}

// countWords are the words of a name that say a number counts something
// (see IsCount).
var countWords = map[string]bool{
	"count": true, "counts": true, "cnt": true, "calls": true, "hits": true, "misses": true,
	"total": true, "bytes": true, "packets": true, "pkts": true, "events": true, "drops": true,
	"dropped": true, "errors": true, "errs": true, "ops": true, "requests": true, "reqs": true,
	"sent": true, "received": true, "recv": true, "num": true, "nr": true,
}

// IsCount reports whether a name says its number counts something: one of
// its words (split at _ and between a lower-case letter and an upper-case
// one) is count, counts, cnt, calls, hits, misses, total, bytes, packets,
// pkts, events, drops, dropped, errors, errs, ops, requests, reqs, sent,
// received, recv, num or nr.
func IsCount(name string) bool {
	for _, w := range words(name) {
		if countWords[strings.ToLower(w)] {
			return true
		}
	}
	return false
}

func words(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c == '.' || c == '-':
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		case c >= 'A' && c <= 'Z' && i > start && s[i-1] >= 'a' && s[i-1] <= 'z':
			out = append(out, s[start:i])
			start = i
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
