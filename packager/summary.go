package packager

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/internal/termsafe"
	"github.com/ecc-bpf/ecc/packager/progscan"
)

// WriteSummary prints a package for people: its doc, then aligned tables
// of programs, maps, flags and export types. Programs and maps are the
// object's (Programs, and the object's maps in the metadata's order): the
// metadata only adds descriptions, output settings and types of keys and
// values; call CheckObject first to refuse metadata that disagrees. Text
// from the package is escaped (internal/termsafe): no control characters
// reach the terminal.
func WriteSummary(w io.Writer, p *Package) error {
	m := &p.Meta
	s := &m.BpfSkel
	fmt.Fprintf(w, "%s", termsafe.Line(s.ObjName))
	if s.Doc != nil {
		if s.Doc.Version != "" {
			fmt.Fprintf(w, " %s", termsafe.Line(s.Doc.Version))
		}
		if b := firstNonEmpty(s.Doc.Brief, s.Doc.Description); b != "" {
			fmt.Fprintf(w, ": %s", termsafe.Line(strings.TrimSpace(b)))
		}
	}
	fmt.Fprintln(w)
	if p.Object != nil {
		fmt.Fprintf(w, "object: %d bytes\n", len(p.Object))
	}
	if len(p.BTF) > 0 {
		// Releases passed ValidRelease: plain names, nothing to escape.
		fmt.Fprintf(w, "BTF for kernels without it: %s\n", strings.Join(BTFReleases(p.BTF), ", "))
	}
	// What ecli shows of maps the source does not annotate, read from the
	// programs' instructions (package progscan).
	var spec *ebpf.CollectionSpec
	var scan *progscan.Result
	if p.Object != nil {
		if sp, err := bpfobj.LoadSpec(p.Object); err == nil {
			spec, scan = sp, progscan.Scan(sp)
		}
	}

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	section := func(title string, n int) bool {
		tw.Flush()
		fmt.Fprintf(w, "\n%s (%d)\n", title, n)
		return n > 0
	}
	row := func(cells ...string) {
		for i := range cells {
			cells[i] = termsafe.Line(cells[i])
		}
		fmt.Fprintf(tw, "  %s\n", strings.Join(cells, "\t"))
	}
	progs := programs(m, spec)
	if section("programs", len(progs)) {
		described := false
		for _, pr := range progs {
			described = described || pr.Description != ""
		}
		if described {
			fmt.Fprintln(tw, "  NAME\tSECTION\tTYPE\tDESCRIPTION")
		} else {
			fmt.Fprintln(tw, "  NAME\tSECTION\tTYPE")
		}
		for _, pr := range progs {
			if described {
				row(pr.Name, pr.Attach, dash(pr.ProgType), oneLine(pr.Description))
			} else {
				row(pr.Name, pr.Attach, dash(pr.ProgType))
			}
		}
	}
	user := userMaps(m, spec)
	if section("maps", len(user)) {
		fmt.Fprintln(tw, "  NAME\tTYPE\tKEY\tVALUE\tENTRIES\tOUTPUT")
		for _, mp := range user {
			out := "-"
			switch {
			case mp.Sample != nil:
				out = fmt.Sprintf("%s every %d ms", mp.Sample.Type, mp.Sample.Interval)
			case mp.ExportType != "":
				out = "events: struct " + mp.ExportType
				if mp.ExportTypeReason != "" {
					out += " (" + mp.ExportTypeReason + ")"
				}
			case scan != nil:
				shows, role := progscan.Shows(spec, scan, mp.Name)
				switch {
				case shows != "":
					out = "results: " + shows
				case role != progscan.RoleOther:
					out = role.String() + ", not shown"
				}
			}
			row(mp.Name, dash(mp.Type), dash(mp.KeyType), dash(mp.ValueType), num(mp.MaxEntries), out)
		}
	}
	var nflags int
	for _, ds := range s.DataSections {
		nflags += len(ds.Variables)
	}
	if section("flags", nflags) {
		fmt.Fprintln(tw, "  FLAG\tTYPE\tDEFAULT\tDESCRIPTION")
		for _, ds := range s.DataSections {
			for i := range ds.Variables {
				v := &ds.Variables[i]
				long, short := FlagName(v)
				name := "--" + long
				if short != "" {
					name = "-" + short + ", " + name
				}
				def := string(v.Value)
				if v.Cmdarg != nil && v.Cmdarg.Default != nil {
					def = string(v.Cmdarg.Default)
				}
				desc := v.Description
				if v.Cmdarg != nil && v.Cmdarg.Help != "" {
					desc = v.Cmdarg.Help
				}
				row(name, v.Type, dash(def), oneLine(desc))
			}
		}
	}
	if section("export types", len(m.ExportTypes)) {
		for _, et := range m.ExportTypes {
			var members []string
			for _, mb := range et.Members {
				members = append(members, mb.Type+" "+mb.Name)
			}
			row("struct "+et.Name, fmt.Sprintf("%d bytes", et.Size), strings.Join(members, "; "))
		}
	}
	return tw.Flush()
}

// Programs lists the package's programs as its object has them: name,
// section (Attach) and program type, in the order of the metadata, then by
// name; the metadata adds descriptions. Without an object (a
// NAME.skel.json) it is the metadata's list.
func (p *Package) Programs() ([]Prog, error) {
	if p.Object == nil {
		return programs(&p.Meta, nil), nil
	}
	spec, err := bpfobj.LoadSpec(p.Object)
	if err != nil {
		return nil, fmt.Errorf("read BPF object: %w", err)
	}
	return programs(&p.Meta, spec), nil
}

func programs(m *Meta, spec *ebpf.CollectionSpec) []Prog {
	if spec == nil {
		return m.BpfSkel.Progs
	}
	listed := map[string]*Prog{}
	var names []string
	for i := range m.BpfSkel.Progs {
		pr := &m.BpfSkel.Progs[i]
		if spec.Programs[pr.Name] != nil && listed[pr.Name] == nil {
			names = append(names, pr.Name)
		}
		listed[pr.Name] = pr
	}
	for _, n := range slices.Sorted(maps.Keys(spec.Programs)) {
		if listed[n] == nil {
			names = append(names, n)
		}
	}
	out := make([]Prog, 0, len(names))
	for _, n := range names {
		ps := spec.Programs[n]
		pr := Prog{Name: n, Attach: ps.SectionName, ProgType: ps.Type.String(), Link: true}
		if ps.AttachType != 0 {
			pr.AttachType = ps.AttachType.String()
		}
		if l := listed[n]; l != nil {
			pr.Description, pr.Link = l.Description, l.Link
		}
		out = append(out, pr)
	}
	return out
}

// userMaps lists the maps that are not data sections: the object's, in
// the order of the metadata, then by name, their type and size the
// object's; without an object, the metadata's.
func userMaps(m *Meta, spec *ebpf.CollectionSpec) []Map {
	var out []Map
	if spec == nil {
		for _, mp := range m.BpfSkel.Maps {
			if !mp.Mmaped && !strings.HasPrefix(mp.Ident, "rodata") && !strings.HasPrefix(mp.Ident, "data") && mp.Ident != "bss" {
				out = append(out, mp)
			}
		}
		return out
	}
	seen := map[string]bool{}
	add := func(name string, mp Map) {
		ms := spec.Maps[name]
		if ms == nil || seen[name] || isDataSection(name) || strings.HasPrefix(name, ".") {
			return
		}
		seen[name] = true
		mp.Name, mp.Type, mp.MaxEntries = name, ms.Type.String(), ms.MaxEntries
		out = append(out, mp)
	}
	for _, mp := range m.BpfSkel.Maps {
		add(mp.Name, mp)
	}
	for _, n := range slices.Sorted(maps.Keys(spec.Maps)) {
		add(n, Map{Name: n, Ident: n})
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func num(n uint32) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatUint(uint64(n), 10)
}

// oneLine is s on one line, whitespace runs made one space, cut to 60
// characters.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 60 {
		r := []rune(s)
		s = string(r[:57]) + "..."
	}
	return s
}
