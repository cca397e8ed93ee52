package commands

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// testApp is a small program set up as ecc and ecli are.
func testApp(out *bytes.Buffer) *cli.App {
	app := &cli.App{
		Name:           "prog",
		Writer:         out,
		ErrWriter:      out,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			{
				Name: "build",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}},
					&cli.IntFlag{Name: "count"},
					&cli.BoolFlag{Name: "json"},
					&cli.StringFlag{Name: "template", Aliases: []string{"t"}},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return Usagef(c, "expects SOURCE, got %s", NArgs(c))
					}
					return nil
				},
			},
			{
				Name:        "images",
				Subcommands: []*cli.Command{{Name: "rm", Action: func(*cli.Context) error { return nil }}},
			},
		},
	}
	Setup(app, FlagValues{"template": func() []string { return []string{"tracepoint", "xdp"} }})
	return app
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // all of stderr
	}{
		{[]string{"bulid"}, `prog: unknown command "bulid" (did you mean "build"?); see 'prog --help'` + "\n"},
		{[]string{"zzz"}, `prog: unknown command "zzz"; see 'prog --help'` + "\n"},
		{[]string{"help", "bulid"}, `prog: unknown command "bulid" (did you mean "build"?); see 'prog --help'` + "\n"},
		{[]string{"images", "mr"}, `prog images: unknown command "mr" (did you mean "rm"?); see 'prog images --help'` + "\n"},
		{[]string{"build", "--ouput", "x"}, "prog build: unknown flag --ouput (did you mean --output?); see 'prog build --help'\n"},
		{[]string{"build", "--hlep"}, "prog build: unknown flag --hlep (did you mean --help?); see 'prog build --help'\n"},
		{[]string{"build", "-x"}, "prog build: unknown flag -x; see 'prog build --help'\n"},
		{[]string{"build", "--zzzzz"}, "prog build: unknown flag --zzzzz; see 'prog build --help'\n"},
		{[]string{"build", "-o"}, "prog build: flag -o needs a value; see 'prog build --help'\n"},
		{[]string{"build", "--count", "many", "x"}, `prog build: invalid value "many" for --count; see 'prog build --help'` + "\n"},
		{[]string{"build", "--json=maybe", "x"}, `prog build: invalid boolean value "maybe" for --json; see 'prog build --help'` + "\n"},
		{[]string{"build"}, "prog build: expects SOURCE, got no arguments; see 'prog build --help'\n"},
		{[]string{"build", "a", "b"}, "prog build: expects SOURCE, got 2 arguments; see 'prog build --help'\n"},
		{[]string{"--versoin"}, "prog: unknown flag --versoin (did you mean --version?); see 'prog --help'\n"},
	} {
		var out, stderr bytes.Buffer
		app := testApp(&out)
		status := Exit(&stderr, "prog", app.Run(append([]string{"prog"}, c.args...)))
		if status != 2 || stderr.String() != c.want {
			t.Errorf("prog %s: status %d, stderr:\n%s\nwant status 2 and\n%s", strings.Join(c.args, " "), status, stderr.String(), c.want)
		}
		if out.Len() != 0 {
			t.Errorf("prog %s printed %q besides the error", strings.Join(c.args, " "), out.String())
		}
	}
}

// A usage error quoting what was typed shows control characters escaped.
func TestUsageErrorEscapes(t *testing.T) {
	var out, stderr bytes.Buffer
	Exit(&stderr, "prog", testApp(&out).Run([]string{"prog", "\x1b[2Jbuild"}))
	if strings.Contains(stderr.String(), "\x1b") || !strings.Contains(stderr.String(), `unknown command "\x1b[2Jbuild"`) {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{}, {"help"}, {"--help"}, {"help", "build"}, {"images"}, {"--version"}} {
		var out, stderr bytes.Buffer
		status := Exit(&stderr, "prog", testApp(&out).Run(append([]string{"prog"}, args...)))
		if status != 0 || stderr.Len() != 0 || out.Len() == 0 {
			t.Errorf("prog %s: status %d, stdout %q, stderr %q", strings.Join(args, " "), status, out.String(), stderr.String())
		}
		if len(args) > 0 && args[0] == "--version" && !strings.HasPrefix(out.String(), "prog "+ReadBuildInfo().Version+"\ncommit:") {
			t.Errorf("--version printed %q", out.String())
		}
		if strings.Contains(out.String(), "help, h") {
			t.Errorf("prog %s lists a help command:\n%s", strings.Join(args, " "), out.String())
		}
	}
}

// complete runs the program as the completion scripts do: the words, the
// last one being completed, then --generate-bash-completion (urfave/cli
// reads os.Args for the word before).
func complete(t *testing.T, words ...string) []string {
	t.Helper()
	args := append(append([]string{"prog"}, words...), completionFlag)
	saved := os.Args
	os.Args = args
	defer func() { os.Args = saved }()
	var out bytes.Buffer
	app := testApp(&out)
	app.EnableBashCompletion = true
	if err := app.Run(Intersperse(app, args)); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return strings.Fields(out.String())
}

func TestCompletion(t *testing.T) {
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{""}, "build images"},
		{[]string{"bu"}, "build images"}, // the shell keeps those that begin with bu
		{[]string{"images", ""}, "rm"},
		{[]string{"build", "--template", ""}, "tracepoint xdp"},
		{[]string{"build", "x.bpf.c", "-t", "x"}, "tracepoint xdp"},
		{[]string{"build", "--json", "--format", ""}, ""}, // not a flag of build: nothing
		{[]string{"build", "-o", ""}, ""},                 // a free value: the shell completes file names
		{[]string{"build", "-t"}, "--template"},           // -t is being typed
		{[]string{"build", "--o"}, "--output"},
		{[]string{"build", "--"}, "--output --count --json --template --help"},
		{[]string{"build", "--output", "out", "--"}, "--count --json --template --help"}, // not again
	} {
		got := strings.Join(complete(t, c.words...), " ")
		if got != c.want {
			t.Errorf("complete %q: %q, want %q", c.words, got, c.want)
		}
	}
}
