package packager

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cilium/ebpf"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/packager/progscan"
)

// WriteSummary prints a package's metadata for people: its doc, then aligned
// tables of programs, maps, flags and export types.
func WriteSummary(w io.Writer, p *Package) error {
	m := &p.Meta
	s := &m.BpfSkel
	fmt.Fprintf(w, "%s", s.ObjName)
	if s.Doc != nil {
		if s.Doc.Version != "" {
			fmt.Fprintf(w, " %s", s.Doc.Version)
		}
		if b := firstNonEmpty(s.Doc.Brief, s.Doc.Description); b != "" {
			fmt.Fprintf(w, ": %s", b)
		}
	}
	fmt.Fprintln(w)
	if p.Object != nil {
		fmt.Fprintf(w, "object: %d bytes\n", len(p.Object))
	}

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	section := func(title string, n int) bool {
		tw.Flush()
		fmt.Fprintf(w, "\n%s (%d)\n", title, n)
		return n > 0
	}
	if section("programs", len(s.Progs)) {
		fmt.Fprintln(tw, "  NAME\tSECTION\tTYPE")
		for _, pr := range s.Progs {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", pr.Name, pr.Attach, dash(pr.ProgType))
		}
	}
	var user []Map
	for _, mp := range s.Maps {
		if !mp.Mmaped && !strings.HasPrefix(mp.Ident, "rodata") && !strings.HasPrefix(mp.Ident, "data") && mp.Ident != "bss" {
			user = append(user, mp)
		}
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
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", mp.Name, dash(mp.Type), dash(mp.KeyType), dash(mp.ValueType), num(mp.MaxEntries), out)
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
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", name, v.Type, dash(def), oneLine(desc))
			}
		}
	}
	if section("export types", len(m.ExportTypes)) {
		for _, et := range m.ExportTypes {
			var members []string
			for _, mb := range et.Members {
				members = append(members, mb.Type+" "+mb.Name)
			}
			fmt.Fprintf(tw, "  struct %s\t%d bytes\t%s\n", et.Name, et.Size, strings.Join(members, "; "))
		}
	}
	return tw.Flush()
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

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
