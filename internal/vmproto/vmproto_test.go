package vmproto

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseResult(t *testing.T) {
	r := &Result{Release: "6.1.0", Events: 2, Programs: []Program{{Name: "a", State: Attached}}}
	framed := r.Marshal()
	// As a serial port with ONLCR delivers it, after boot noise.
	serial := append([]byte("noise\r\n"), bytes.ReplaceAll(framed, []byte("\n"), []byte("\r\n"))...)
	got, err := ParseResult(serial)
	if err != nil || got.Release != "6.1.0" || got.Events != 2 || len(got.Programs) != 1 {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, []byte("no markers"), framed[:len(framed)-10], []byte(Begin + "\n{not json\n" + End)} {
		if _, err := ParseResult(bad); !errors.Is(err, ErrNoResult) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
