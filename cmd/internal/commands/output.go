package commands

import (
	"encoding/json"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// The output contract (docs/output.md): results go to stdout, as text for
// people or, with --format json, as one JSON document with snake_case keys;
// progress, notices and errors go to stderr.

// Formats are the values --format takes.
var Formats = []string{"text", "json"}

// FormatFlag is --format, the one definition every command that prints
// results uses. A value other than text or json is a usage error (status
// 2), refused before the command runs.
func FormatFlag() cli.Flag {
	return &cli.StringFlag{
		Name:  "format",
		Value: "text",
		Usage: "print the result as `FORMAT`: text for people, json for scripts (docs/output.md)",
		Action: func(c *cli.Context, v string) error {
			for _, f := range Formats {
				if v == f {
					return nil
				}
			}
			return Usagef(c, "--format %q: use text or json", v)
		},
	}
}

// JSON says whether the command was asked for JSON (--format json).
func JSON(c *cli.Context) bool { return c.String("format") == "json" }

// WriteJSON writes v to w as the commands print results: one indented
// JSON document and a newline, with <, > and & left as they are.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Print writes the result v to stdout as JSON with --format json, else
// calls text, which writes the text form.
func Print(c *cli.Context, v any, text func(w io.Writer) error) error {
	if JSON(c) {
		return WriteJSON(os.Stdout, v)
	}
	return text(os.Stdout)
}

// Drawable says whether f is a terminal that takes redrawn lines (progress
// bars): a terminal, and TERM is not "dumb".
func Drawable(f *os.File) bool {
	return term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
}

// Color says whether output to f may be coloured: a terminal that is not
// "dumb", and NO_COLOR is unset or empty (https://no-color.org).
func Color(f *os.File) bool {
	return os.Getenv("NO_COLOR") == "" && Drawable(f)
}
