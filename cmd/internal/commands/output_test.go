package commands

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/creack/pty"
	"github.com/urfave/cli/v2"
)

// Bars need a terminal that is not dumb; colour also needs NO_COLOR unset
// or empty.
func TestDrawableAndColor(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	pipeR, pipeW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pipeR.Close()
	defer pipeW.Close()
	for _, c := range []struct {
		f               *os.File
		term, noColor   string
		drawable, color bool
	}{
		{tty, "xterm", "", true, true},
		{tty, "", "", true, true},
		{tty, "xterm", "1", true, false},
		{tty, "dumb", "", false, false},
		{pipeW, "xterm", "", false, false},
	} {
		t.Setenv("TERM", c.term)
		t.Setenv("NO_COLOR", c.noColor)
		if d, col := Drawable(c.f), Color(c.f); d != c.drawable || col != c.color {
			t.Errorf("%s, TERM=%q NO_COLOR=%q: drawable %v, colour %v; want %v, %v", c.f.Name(), c.term, c.noColor, d, col, c.drawable, c.color)
		}
	}
}

// --format is refused before the command runs unless it is text or json.
func TestFormatFlag(t *testing.T) {
	ran := ""
	app := &cli.App{Name: "ecc", Writer: &bytes.Buffer{}, ErrWriter: &bytes.Buffer{}, ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{{Name: "x", Flags: []cli.Flag{FormatFlag()}, Action: func(c *cli.Context) error {
			ran = c.String("format")
			if JSON(c) {
				ran += "+json"
			}
			return nil
		}}}}
	for _, c := range []struct{ args, ran, err string }{
		{"x", "text", ""},
		{"x --format text", "text", ""},
		{"x --format json", "json+json", ""},
		{"x --format yaml", "", `--format "yaml": use text or json; see 'ecc x --help'`},
		{"x --format=Json", "", `--format "Json": use text or json; see 'ecc x --help'`},
	} {
		ran = ""
		err := app.Run(append([]string{"ecc"}, strings.Fields(c.args)...))
		if ran != c.ran || (err == nil) != (c.err == "") || (err != nil && err.Error() != c.err) {
			t.Errorf("%s: ran %q, error %v; want %q, %q", c.args, ran, err, c.ran, c.err)
		}
	}
}

// The bar goes on one line, redrawn, and is erased at the end; a
// transfer of nothing draws nothing.
func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	p := NewProgressBar(&b)
	p.Start("pull", "127.0.0.1:5000/probes/x:v1", 0)
	p.End(nil)
	if b.Len() != 0 {
		t.Errorf("empty transfer drew %q", b.String())
	}
	p.Start("pull", "127.0.0.1:5000/probes/x:v1", 4<<20)
	p.Add(4 << 20)
	p.Blob("pulled", "x.bpf.o", 4<<20)
	p.End(nil)
	out := b.String()
	if !strings.HasPrefix(out, "\rpull 127.0.0.1:5000/probes/x:v1") || strings.Contains(out, "\n") || !strings.HasSuffix(out, "\r") {
		t.Errorf("bar %q", out)
	}
	// A narrow terminal: the description is cut from the left.
	n := &bar{cols: 73}
	if d := n.describe("push", "registry.example.org:5000/some/long/path/execsnoop:v1"); d != "…execsnoop:v1" {
		t.Errorf("narrow: %q", d)
	}
	if d := (&bar{cols: 200}).describe("push", "a/b:v1"); d != "push a/b:v1" {
		t.Errorf("wide: %q", d)
	}
}
