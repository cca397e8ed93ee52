package registry

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults of Limits and Options.Timeout (docs/guide.md, "Limits and
// timeouts", says why these numbers).
const (
	// DefaultMaxBytes bounds everything one pull downloads: the index, the
	// platform's manifest, config and layers. Real packages are kilobytes
	// to a few megabytes; 256 MiB leaves room for large Wasm programs and
	// BTF archives and keeps what a hostile registry can put on disk small.
	DefaultMaxBytes = 256 << 20
	// DefaultMaxManifests bounds the entries of an index: one per platform,
	// and there are about a dozen Linux architectures.
	DefaultMaxManifests = 64
	// DefaultTimeout is how long a registry may take to accept a
	// connection, to send response headers, or to make progress (1 KiB) on
	// a transfer.
	DefaultTimeout = 30 * time.Second
	// MaxArchiveEntries bounds the files and folders an oci-archive: tar
	// may hold (a layout has about five per package).
	MaxArchiveEntries = 10000
)

// Limits bound what a pull accepts from a registry, an OCI layout or an
// archive. Zero fields mean the defaults.
type Limits struct {
	// MaxBytes bounds the total size of what one pull downloads (the index,
	// the platform's manifest, config and layers) and what an
	// oci-archive: may unpack to (--max-bytes). Default DefaultMaxBytes.
	MaxBytes int64
	// MaxManifests bounds the entries of an image index (--max-manifests).
	// Default DefaultMaxManifests.
	MaxManifests int
}

func (l Limits) orDefault() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxManifests <= 0 {
		l.MaxManifests = DefaultMaxManifests
	}
	return l
}

// LimitError names what is over which limit of Limits. It matches
// ErrLimit.
type LimitError struct {
	// What is over the limit, e.g. "the linux/amd64 package is 300.0 MiB
	// (314572800 bytes)"; Max the limit, e.g. "256.0 MiB".
	What, Max string
	// Limit is the field of Limits: "MaxBytes" or "MaxManifests".
	Limit string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s, more than the %s allowed", e.What, e.Max)
}

func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// ParseSize reads a byte count for --max-bytes: a number of bytes, or one
// with a binary unit: 512MiB, 1GiB, 64KiB (K, M, G and KB, MB, GB mean the
// same, powers of 1024).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := strings.TrimSpace(t[:i]), strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("size %q: want a positive whole number of bytes, e.g. 512MiB or 1GiB", s)
	}
	var shift uint
	switch unit {
	case "", "b":
	case "k", "kb", "kib":
		shift = 10
	case "m", "mb", "mib":
		shift = 20
	case "g", "gb", "gib":
		shift = 30
	case "t", "tb", "tib":
		shift = 40
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q (use B, KiB, MiB, GiB or TiB)", s, t[i:])
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive whole number of bytes, e.g. 512MiB or 1GiB", s)
	}
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n << shift, nil
}

// HumanSize prints a byte count for people.
func HumanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
