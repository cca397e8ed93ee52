package progflags

import (
	"bytes"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ecc-bpf/ecc/internal/termsafe"
)

// WriteHelp writes the program's usage: its name and version, its brief
// (or description), description and details, a table of the flags with
// their type, default and help, and a line about the runtime's own flags.
// progName is what the usage line shows before [FLAGS]; "" means
// s.Command. Text from the package (its name, doc, flag types, defaults and
// help) is escaped: no control characters reach the terminal
// (internal/termsafe).
func (s *Set) WriteHelp(w io.Writer, progName string) {
	if progName == "" {
		progName = s.Command
	}
	var b bytes.Buffer
	title := termsafe.Line(strings.TrimSuffix(s.objName, "_bpf"))
	if title == "" {
		title = "BPF program"
	}
	var brief, desc, details, version string
	if d := s.doc; d != nil {
		brief, desc, details, version = termsafe.Text(strings.TrimSpace(d.Brief)), termsafe.Text(strings.TrimSpace(d.Description)), termsafe.Text(strings.TrimSpace(d.Details)), termsafe.Line(strings.TrimSpace(d.Version))
	}
	if brief == "" {
		brief, desc = desc, ""
	}
	if desc == brief {
		desc = ""
	}
	b.WriteString(title)
	if version != "" {
		b.WriteString(" " + version)
	}
	b.WriteString("\n")
	if brief != "" {
		b.WriteString(brief + "\n")
	}
	for _, para := range []string{desc, details} {
		if para != "" {
			b.WriteString("\n" + para + "\n")
		}
	}
	b.WriteString("\nUsage: " + progName + " [FLAGS]\n\n")

	helpShort := "-h, "
	if s.byShort["h"] != nil {
		helpShort = "    "
	}
	b.WriteString("Flags:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	io.WriteString(tw, "  FLAG\tTYPE\tDEFAULT\tHELP\n")
	hasBool, hasArray := false, false
	for _, f := range s.flags {
		short := "    "
		if f.Short != "" {
			short = "-" + f.Short + ", "
		}
		def, help := termsafe.Line(f.Default), termsafe.Line(f.Help)
		if !f.Settable() {
			def = "-"
			if !strings.Contains(help, "not settable") {
				help += " (not settable)"
			}
		}
		switch f.Kind {
		case Bool:
			hasBool = true
		case Array:
			hasArray = true
		}
		io.WriteString(tw, "  "+termsafe.Line(short+"--"+f.Name)+"\t"+termsafe.Line(f.Type)+"\t"+def+"\t"+help+"\n")
	}
	io.WriteString(tw, "  "+helpShort+"--help\t\t\tshow this help\n")
	tw.Flush()

	b.WriteString("\n")
	if hasBool {
		b.WriteString("Bool flags: --NAME or --enable-NAME sets true, --NAME=false or --disable-NAME sets false.\n")
	}
	if hasArray {
		b.WriteString("Arrays take comma-separated values: --NAME=1,2,3 (the rest are zero).\n")
	}
	b.WriteString("- and _ are alike in flag names; a value that begins with - (other than a number) needs =, as in --NAME=-VALUE.\n")
	if s.RuntimeHelp != "" {
		b.WriteString(s.RuntimeHelp + "\n")
	}
	w.Write(b.Bytes())
}
