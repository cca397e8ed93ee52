package testenv

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "{\"w\":%d,\"n\":%d}\n", i, j)
				b.Lines()
			}
		})
	}
	wg.Wait()
	if n := len(b.Lines()); n != 400 {
		t.Errorf("%d lines, want 400", n)
	}
	if n := len(b.JSONLines()); n != 400 {
		t.Errorf("%d JSON lines, want 400", n)
	}
	var c SyncBuffer
	c.Write([]byte("text\n{\"a\":1}\n{\"cut"))
	if got := c.Lines(); !reflect.DeepEqual(got, []string{"text", `{"a":1}`}) {
		t.Errorf("Lines() = %q: want the complete lines", got)
	}
	if got := c.JSONLines(); len(got) != 1 || got[0]["a"] != 1.0 {
		t.Errorf("JSONLines() = %v", got)
	}
	if got := (&SyncBuffer{}).Lines(); got != nil {
		t.Errorf("empty: %q", got)
	}
}
