package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/ecc-bpf/ecc/decode"
	"github.com/ecc-bpf/ecc/internal/ctype"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/progscan"
)

// decodeOptions builds the options that decode a package's events: the
// program's byte order and the @format of its export types' members
// (export_types[].members[].format, members of anonymous structs and
// unions under members[].members). A format this ecli does not know is
// left out with a warning on w.
func decodeOptions(m *packager.Meta, order binary.ByteOrder, w io.Writer) *decode.Options {
	o := &decode.Options{ByteOrder: order}
	var add func(st string, members []packager.ExportMember)
	add = func(st string, members []packager.ExportMember) {
		for _, mb := range members {
			add(st, mb.Members)
			if mb.Format == "" {
				continue
			}
			f, err := decode.ParseFormat(mb.Format)
			if err != nil {
				fmt.Fprintf(w, "ecli: warning: struct %s member %s: %v; it prints as its type says (is ecli older than the ecc that built the package?)\n", st, mb.Name, err)
				continue
			}
			if o.Formats == nil {
				o.Formats = map[string]map[string]decode.Format{}
			}
			if o.Formats[st] == nil {
				o.Formats[st] = map[string]decode.Format{}
			}
			o.Formats[st][mb.Name] = f
		}
	}
	for _, et := range m.ExportTypes {
		add(et.Name, et.Members)
	}
	return o
}

// newDecoder compiles the decoder of events of type t, with the package's
// @format (or, when they do not fit the type, without them and a warning
// on w).
func newDecoder(m *packager.Meta, order binary.ByteOrder, w io.Writer, what string, t btf.Type) (*decode.Decoder, error) {
	opts := decodeOptions(m, order, w)
	dec, err := decode.New(t, opts)
	if err != nil && opts.Formats != nil {
		// A package whose @format does not fit its type (edited by
		// hand): print the types as they are rather than nothing.
		fmt.Fprintf(w, "ecli: warning: %s: %v; ignoring the package's formats\n", what, err)
		opts.Formats = nil
		dec, err = decode.New(t, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return dec, nil
}

// OutputFlagError is an --output file ecli cannot create, or a --fields or
// --filter value that names no member of any event struct, that does not
// fit the member it names, or that a package without events cannot use.
type OutputFlagError struct {
	Flag  string // "--fields" or "--filter"
	Value string
	Err   error
}

func (e *OutputFlagError) Error() string { return e.Flag + " " + e.Value + ": " + e.Err.Error() }
func (e *OutputFlagError) Unwrap() error { return e.Err }

// eventViews are --fields and --filter, parsed: what each event printer
// shows of its events, and which events.
type eventViews struct {
	// names are the fields of --fields NAME,...; add and del those of
	// --fields +NAME,-NAME, which change the default.
	names, add, del []string
	filters         []decode.Filter
	// scan is what checking the names against the events needed.
	scan *progscan.Result
}

// newEventViews parses --fields and --filter and checks every name
// against the event structs of the package: a name must be a member of
// at least one (or the timestamp of its events).
func newEventViews(o *Options, m *packager.Meta, spec *ebpf.CollectionSpec) (*eventViews, error) {
	v := &eventViews{}
	var fields []string
	for _, f := range o.Fields {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				fields = append(fields, name)
			}
		}
	}
	for _, name := range fields {
		switch name[0] {
		case '+':
			v.add = append(v.add, name[1:])
		case '-':
			v.del = append(v.del, name[1:])
		default:
			v.names = append(v.names, name)
		}
	}
	if len(v.names) > 0 && len(v.add)+len(v.del) > 0 {
		return nil, &OutputFlagError{Flag: "--fields", Value: strings.Join(o.Fields, ","),
			Err: errors.New("name the fields to print (pid,comm) or change the default ones (+pid,-comm), not both")}
	}
	for _, s := range o.Filters {
		f, err := decode.ParseFilter(s)
		if err != nil {
			return nil, &OutputFlagError{Flag: "--filter", Value: s, Err: decode.ErrFilterSyntax}
		}
		v.filters = append(v.filters, f)
	}
	if len(fields) == 0 && len(v.filters) == 0 {
		return v, nil
	}
	v.scan = progscan.Scan(spec)
	decs, whats, err := eventDecoders(m, spec, v.scan)
	if err != nil {
		return nil, err
	}
	if len(decs) == 0 {
		flag := "--fields"
		if len(fields) == 0 {
			flag = "--filter"
		}
		return nil, &OutputFlagError{Flag: flag, Value: strings.Join(slices.Concat(o.Fields, o.Filters), " "),
			Err: errors.New("this package sends no decoded events (--fields and --filter apply to events of ring buffers, perf event arrays and iterators, not to maps or bpf_printk lines)")}
	}
	// Each name must be known to one event struct at least.
	unknown := func(flag, value, name string, stamp bool) error {
		var lists []string
		for i, d := range decs {
			if _, err := d.Select(name); err == nil || stamp && strings.EqualFold(name, stampKey(d)) {
				return nil
			}
			fs := d.Fields()
			if stamp {
				fs = append([]string{stampKey(d)}, fs...)
			}
			lists = append(lists, fmt.Sprintf("%s has %s", whats[i], strings.Join(fs, ", ")))
		}
		return &OutputFlagError{Flag: flag, Value: value, Err: fmt.Errorf("no field %q: %s", name, strings.Join(lists, "; "))}
	}
	for _, name := range fields {
		if err := unknown("--fields", name, strings.TrimLeft(name, "+-"), true); err != nil {
			return nil, err
		}
	}
	for i, f := range v.filters {
		if err := unknown("--filter", o.Filters[i], f.Field, false); err != nil {
			return nil, err
		}
		for _, d := range decs {
			var ue *decode.UnknownFieldError
			if _, err := d.NewMatcher([]decode.Filter{f}); err != nil && !errors.As(err, &ue) {
				return nil, &OutputFlagError{Flag: "--filter", Value: o.Filters[i], Err: errors.Unwrap(err)}
			}
		}
	}
	return v, nil
}

// eventDecoders compiles the decoders of the structs the package's events
// carry: those of its ring buffers and perf event arrays, and the records
// of its iterators; whats says whose they are ("struct event of map rb").
func eventDecoders(m *packager.Meta, spec *ebpf.CollectionSpec, scan *progscan.Result) (decs []*decode.Decoder, whats []string, err error) {
	add := func(what string, t btf.Type) error {
		if t == nil {
			return nil
		}
		d, err := newDecoder(m, spec.ByteOrder, io.Discard, what, t)
		if err != nil {
			return err
		}
		decs = append(decs, d)
		whats = append(whats, ctype.TypeName(t)+" of "+what)
		return nil
	}
	for _, name := range sortedMaps(spec) {
		if ms := spec.Maps[name]; ms.Type != ebpf.RingBuf && ms.Type != ebpf.PerfEventArray {
			continue
		}
		t, err := exportType(m, spec, scan, name)
		if err != nil {
			return nil, nil, err
		}
		if err := add("map "+name, t); err != nil {
			return nil, nil, err
		}
	}
	for name, ps := range spec.Programs {
		if !strings.HasPrefix(ps.SectionName, "iter") {
			continue
		}
		t, _ := iterRecordType(m, spec, name)
		if err := add("iterator "+name, t); err != nil {
			return nil, nil, err
		}
	}
	return decs, whats, nil
}

// eventView is what an event printer shows.
type eventView struct {
	dec   *decode.Decoder
	match *decode.Matcher // nil: every event
	// none: a filter names a member these events lack, so none prints.
	none bool
	// stamp: the timestamp (JSON) or TIME column (text) prints.
	stamp bool
	// keep tells which stack members print their frames.
	keep func(member string) bool
}

// view applies --fields and --filter to events that dec decodes. hidden
// are the members text rows leave out by default (stack addresses, which
// print as frames, and their lengths); stacks the stack members. Names a
// struct lacks were checked by newEventViews: they name another struct's
// members, and are skipped here.
func (v *eventViews) view(dec *decode.Decoder, hidden, stacks []string, json bool) (*eventView, error) {
	ev := &eventView{dec: dec, stamp: true, keep: func(string) bool { return true }}
	if !json {
		ev.dec = dec.WithoutColumns(hidden...)
	}
	stampName := stampKey(dec)
	isStamp := func(name string) bool { return strings.EqualFold(name, stampName) }
	known := func(name string) bool {
		_, err := dec.Select(name)
		return err == nil
	}
	if len(v.names)+len(v.add)+len(v.del) > 0 {
		var names []string
		if len(v.names) > 0 {
			ev.stamp = slices.ContainsFunc(v.names, isStamp)
			names = v.names
		} else {
			for _, c := range ev.dec.Columns() {
				names = append(names, c.Member)
			}
			names = append(names, stacks...)
			if json {
				names = dec.Fields()
			}
			names = append(names, v.add...)
			if slices.ContainsFunc(v.add, isStamp) {
				ev.stamp = true
			}
			if slices.ContainsFunc(v.del, isStamp) {
				ev.stamp = false
			}
			names = slices.DeleteFunc(names, func(n string) bool { return hasName(v.del, n) })
		}
		var chosen []string
		for _, n := range names {
			if !isStamp(n) && known(n) {
				chosen = append(chosen, n)
			}
		}
		keep := slices.Clone(chosen)
		ev.keep = func(member string) bool { return hasName(keep, member) }
		if !json {
			// Stack addresses print as frames under the row, not as a
			// column.
			chosen = slices.DeleteFunc(chosen, func(n string) bool { return hasName(stacks, n) && hasName(hidden, n) })
		}
		sel, err := dec.Select(chosen...)
		if err != nil {
			return nil, err
		}
		ev.dec = sel
	}
	var filters []decode.Filter
	for _, f := range v.filters {
		if !known(f.Field) {
			ev.none = true
			continue
		}
		filters = append(filters, f)
	}
	if len(filters) > 0 {
		m, err := dec.NewMatcher(filters)
		if err != nil {
			return nil, err
		}
		ev.match = m
	}
	return ev, nil
}

// hasName reports whether names holds name, in any case, as --fields
// takes names (PID for pid).
func hasName(names []string, name string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) })
}
