package tailbuf

import (
	"fmt"
	"strings"
	"testing"
)

func TestBuffer(t *testing.T) {
	b := &Buffer{Max: 64}
	for i := range 100 {
		fmt.Fprintf(b, "line %d\r\n\n", i)
	}
	if s := b.String(); len(s) > 64 || !strings.HasSuffix(s, "line 99\r\n\n") {
		t.Errorf("String() = %q", s)
	}
	if got := strings.Join(b.Lines(2), "|"); got != "line 98|line 99" {
		t.Errorf("Lines(2) = %q", got)
	}
}
