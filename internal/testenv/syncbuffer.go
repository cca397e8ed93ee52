package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
)

// SyncBuffer is a bytes.Buffer that a process, a goroutine or a Wasm guest
// writes while the test reads it. The zero value is ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines returns the complete lines written so far, without their newlines.
func (s *SyncBuffer) Lines() []string {
	out := s.String()
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		return strings.Split(out[:i], "\n")
	}
	return nil
}

// JSONLines decodes every line written so far that holds a JSON object.
func (s *SyncBuffer) JSONLines() []map[string]any { return JSONLines(s.String()) }

// JSONLines decodes every line of out that holds a JSON object; other lines
// (text, a line cut short) are skipped.
func JSONLines(out string) []map[string]any {
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}
