// Package tailbuf keeps the end of a stream: a VM's console, qemu's
// stderr, ecli's messages inside a VM.
package tailbuf

import (
	"strings"
	"sync"
)

// Buffer keeps at least the last Max bytes written to it (at most twice
// that); it is safe for concurrent use.
type Buffer struct {
	Max int
	mu  sync.Mutex
	b   []byte
}

func (t *Buffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2*t.Max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.Max:]...)
	}
	return len(p), nil
}

// String is the end of the stream, at most Max bytes.
func (t *Buffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.b
	if len(b) > t.Max {
		b = b[len(b)-t.Max:]
	}
	return string(b)
}

// Lines are the last n non-blank lines, without carriage returns (a
// serial console's line ends).
func (t *Buffer) Lines(n int) []string {
	var out []string
	for l := range strings.Lines(strings.ReplaceAll(t.String(), "\r", "")) {
		if l = strings.TrimRight(l, "\n"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}
