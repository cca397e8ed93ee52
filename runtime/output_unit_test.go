package runtime

import (
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/decode"
)

// view: which members, which time stamp, which stacks, and filters on
// members a struct lacks.
func TestEventView(t *testing.T) {
	dec, data := benchOpenEvent(t)
	for _, c := range []struct {
		name           string
		v              eventViews
		json           bool
		hidden, stacks []string
		header         string // text header, or JSON object
		stamp, none    bool
	}{
		{name: "default text", header: "    PID COMM             FLAGS      MODE       FNAME", stamp: true},
		{name: "hidden", hidden: []string{"mode", "flags"}, header: "    PID COMM             FNAME", stamp: true},
		{name: "hidden, JSON keeps them", json: true, hidden: []string{"mode"}, stamp: true,
			header: `{"pid":4242,"comm":"systemd-journal","flags":"0x80241","mode":"0x1a0","fname":"/usr/lib/x86_64-linux-gnu/libc.so.6"}`},
		{name: "absolute", v: eventViews{names: []string{"fname", "pid"}}, header: "FNAME                                PID"},
		{name: "absolute, TIMESTAMP in any case", v: eventViews{names: []string{"TIMESTAMP", "pid"}}, header: "    PID", stamp: true},
		{name: "relative", v: eventViews{del: []string{"COMM", "timestamp"}, add: []string{"mode"}}, hidden: []string{"mode"},
			header: "    PID FLAGS      FNAME                            MODE"},
		{name: "relative JSON", json: true, v: eventViews{del: []string{"comm", "fname", "flags", "mode"}}, header: `{"pid":4242}`, stamp: true},
		{name: "a stack array named prints frames, not a column", v: eventViews{names: []string{"pid", "FNAME"}}, stacks: []string{"fname"}, hidden: []string{"fname"},
			header: "    PID"},
		{name: "a filter on a member the struct lacks", v: eventViews{filters: []decode.Filter{{Field: "uid", Op: decode.OpEq, Value: "0"}}},
			header: "    PID COMM             FLAGS      MODE       FNAME", stamp: true, none: true},
	} {
		ev, err := c.v.view(dec, c.hidden, c.stacks, c.json)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var got []byte
		if c.json {
			got, _ = ev.dec.AppendJSON(nil, data)
		} else {
			got = ev.dec.AppendHeader(nil)
		}
		if string(got) != c.header || ev.stamp != c.stamp || ev.none != c.none {
			t.Errorf("%s: %q stamp %v none %v, want %q %v %v", c.name, got, ev.stamp, ev.none, c.header, c.stamp, c.none)
		}
		if c.name == "a stack array named prints frames, not a column" && (!ev.keep("fname") || ev.keep("comm")) {
			t.Errorf("%s: keep(fname) %v, keep(comm) %v", c.name, ev.keep("fname"), ev.keep("comm"))
		}
	}
}

// Options are read, never written.
func TestNewEventViewsKeepsOptions(t *testing.T) {
	fields := make([]string, 1, 4)
	fields[0] = "pid,-comm"
	o := &Options{Fields: fields, Filters: []string{"pid==1"}}
	if _, err := newEventViews(o, nil, nil); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("error %v", err)
	}
	if got := fields[:4]; got[1] != "" || len(o.Fields) != 1 {
		t.Errorf("Options.Fields changed: %q", got)
	}
}
