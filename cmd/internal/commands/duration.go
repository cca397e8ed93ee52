package commands

import (
	"fmt"
	"strconv"
	"time"
)

// ParseDuration reads the value of flag --NAME: a Go duration (10s, 500ms,
// 2m) or a bare number of seconds; "" is 0.
func ParseDuration(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("--%s %s: must not be negative", name, s)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--%s %q: use a duration like 10s, 500ms or 2m", name, s)
	}
	return d, nil
}
