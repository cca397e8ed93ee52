package commands

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/internal/suggest"
)

// UsageError is a command line a command cannot take: an unknown flag or
// command, a flag without its value, the wrong number of arguments. Exit
// prints it on one line, "COMMAND: MESSAGE" (ecli run: unknown flag
// --duraton (did you mean --duration?); see 'ecli run --help'), and
// returns status 2.
type UsageError struct {
	// Command is the command as typed, from the program's name: "ecli run".
	Command string
	Err     error
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError of the command of c: the message, then
// "; see 'COMMAND --help'".
func Usagef(c *cli.Context, format string, args ...any) error {
	cmd := commandPath(c)
	return &UsageError{Command: cmd, Err: fmt.Errorf(format+"; see '%s --help'", append(args, cmd)...)}
}

// commandPath is the command of c as typed: the program, then the names of
// the commands down to c's ("ecc images rm").
func commandPath(c *cli.Context) string {
	names := commandNames(c)
	names[0] = c.App.Name
	return strings.Join(names, " ")
}

// commandNames are the names of the commands from the root (the program)
// down to c's.
func commandNames(c *cli.Context) []string {
	var names []string
	for _, x := range c.Lineage() { // from c up to the root
		if x.Command != nil {
			names = append(names, x.Command.Name)
		}
	}
	if len(names) == 0 {
		return []string{c.App.Name}
	}
	slices.Reverse(names)
	return names
}

// dashed writes a flag name as it is typed: -x, --name.
func dashed(name string) string {
	if len([]rune(name)) == 1 {
		return "-" + name
	}
	return "--" + name
}

// OnUsageError turns urfave/cli's flag errors into one-line *UsageErrors
// that name the flag and, for an unknown one, the flag meant ("did you
// mean"), by urfave/cli's own measure of similarity. When an unknown flag
// is like none of the command's, unknownHint (when set) says what to do
// instead of "see 'COMMAND --help'": e.g. that ecli run's program flags
// go after PACKAGE.
func OnUsageError(unknownHint func(cmd, flag string) string) cli.OnUsageErrorFunc {
	return func(c *cli.Context, err error, _ bool) error {
		cmd := commandPath(c)
		see := fmt.Sprintf("see '%s --help'", cmd)
		msg := err.Error()
		switch {
		case strings.HasPrefix(msg, "flag provided but not defined: -"):
			name := strings.TrimPrefix(msg, "flag provided but not defined: -")
			flag := dashed(name)
			if s := suggest.Closest(name, flagNames(c.Command)...); s != "" {
				msg = fmt.Sprintf("unknown flag %s (did you mean %s?); %s", flag, dashed(s), see)
			} else if unknownHint != nil {
				msg = fmt.Sprintf("unknown flag %s; %s", flag, unknownHint(cmd, flag))
			} else {
				msg = fmt.Sprintf("unknown flag %s; %s", flag, see)
			}
		case strings.HasPrefix(msg, "flag needs an argument: -"):
			msg = fmt.Sprintf("flag %s needs a value; %s", dashed(strings.TrimPrefix(msg, "flag needs an argument: -")), see)
		default:
			// "invalid value "x" for flag -count: parse error" and the like.
			msg = fmt.Sprintf("%s; %s", flagsInMessage(msg), see)
		}
		return &UsageError{Command: cmd, Err: errors.New(msg)}
	}
}

// flagInMessage writes the flag in Go's flag messages ("invalid value "x"
// for flag -count: parse error") as it is typed, --count, and drops the
// uninformative ": parse error".
var flagInMessage = regexp.MustCompile(`for (?:flag )?-([^\s:]+)`)

func flagsInMessage(msg string) string {
	msg = strings.TrimSuffix(msg, ": parse error")
	return flagInMessage.ReplaceAllStringFunc(msg, func(m string) string {
		return "for " + dashed(flagInMessage.FindStringSubmatch(m)[1])
	})
}

// NArgs says how many arguments c was given: "no arguments", "1
// argument", "3 arguments".
func NArgs(c *cli.Context) string {
	switch n := c.NArg(); n {
	case 0:
		return "no arguments"
	case 1:
		return "1 argument"
	default:
		return fmt.Sprintf("%d arguments", n)
	}
}

// flagNames lists every name of cmd's flags, and help's.
func flagNames(cmd *cli.Command) []string {
	var names []string
	if cmd != nil {
		for _, f := range cmd.Flags {
			names = append(names, f.Names()...)
		}
	}
	return append(names, "help")
}

// UnknownCommand is the Action of the program and of a command with
// subcommands and no action of its own: no argument shows the help, "help
// [COMMAND]" too, anything else is an unknown command, with the command
// meant when one is close, else hint's advice when hint is set (ecli:
// "to run a package: ecli run NAME"). Setup installs UnknownCommand(nil)
// where no Action is set.
func UnknownCommand(hint func(cmd, name string) string) cli.ActionFunc {
	return func(c *cli.Context) error { return unknownCommand(c, hint) }
}

func unknownCommand(c *cli.Context, hint func(cmd, name string) string) error {
	root := len(commandNames(c)) == 1
	help := func() error {
		if root {
			return cli.ShowAppHelp(c)
		}
		return cli.ShowSubcommandHelp(c)
	}
	if !c.Args().Present() {
		return help()
	}
	name := c.Args().First()
	subs := c.App.Commands
	if !root {
		subs = c.Command.Subcommands
	}
	if name == "help" {
		if topic := c.Args().Get(1); topic != "" {
			for _, s := range subs {
				if s.HasName(topic) {
					return cli.ShowCommandHelp(c, topic)
				}
			}
			name = topic
		} else {
			return help()
		}
	}
	var names []string
	for _, s := range subs {
		if !s.Hidden {
			names = append(names, s.Names()...)
		}
	}
	cmd := commandPath(c)
	msg := fmt.Sprintf("unknown command %q", name)
	switch s := suggest.Closest(name, names...); {
	case s != "":
		msg += fmt.Sprintf(" (did you mean %q?); see '%s --help'", s, cmd)
	case hint != nil:
		msg += "; " + hint(cmd, name)
	default:
		msg += fmt.Sprintf("; see '%s --help'", cmd)
	}
	return &UsageError{Command: cmd, Err: errors.New(msg)}
}

// FlagValues are the values a flag takes, for shell completion, by flag
// name (e.g. "format": text, json); a command's own FlagValues win over the
// program's.
type FlagValues map[string]func() []string

const flagValuesKey = "commands.FlagValues"

// Setup gives a program what both tools share on their command line:
//
//   - --version, printing what the version command prints;
//   - one-line usage errors (OnUsageError) on every command, exit status 2;
//   - "unknown command" with a suggestion, for the program and every
//     command that has subcommands, and "PROG help [COMMAND]";
//   - no help subcommand under every command (PROG CMD --help is the help);
//   - shell completion that offers a flag's values (values; e.g. template
//     names after --template; --format's are text and json unless given)
//     and nothing after a flag that takes a file or other free value, so
//     that the shell completes file names.
func Setup(app *cli.App, values FlagValues) {
	app.HelpName = app.Name
	app.Version = ReadBuildInfo().Version
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version and exit", DisableDefaultText: true}
	cli.VersionPrinter = func(c *cli.Context) { WriteVersion(c.App.Writer, c.App.Name, ReadBuildInfo()) }
	if app.Metadata == nil {
		app.Metadata = map[string]any{}
	}
	values = maps.Clone(values)
	if values == nil {
		values = FlagValues{}
	}
	if values["format"] == nil {
		values["format"] = func() []string { return []string{"text", "json"} }
	}
	app.Metadata[flagValuesKey] = values
	app.OnUsageError = OnUsageError(nil)
	app.HideHelpCommand = true
	if app.Action == nil {
		app.Action = UnknownCommand(nil)
	}
	var walk func(cmds []*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			if c.OnUsageError == nil {
				c.OnUsageError = OnUsageError(nil)
			}
			c.HideHelpCommand = true
			if len(c.Subcommands) > 0 && c.Action == nil {
				c.Action = UnknownCommand(nil)
			}
			if c.BashComplete == nil {
				c.BashComplete = completeValues(c, values)
			}
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
}

// appFlagValues is what Setup was given, for the completion scripts.
func appFlagValues(app *cli.App) FlagValues {
	v, _ := app.Metadata[flagValuesKey].(FlagValues)
	return v
}

// completeValues completes cmd's command line. The completion scripts run
// "PROG WORDS... CUR --generate-bash-completion", CUR the word being
// completed, perhaps empty. After a flag that takes a value it offers
// that flag's values (nothing when it has none listed, so that the shell
// offers file names); otherwise urfave/cli's default: the flags that
// begin with CUR when it begins with -, else the subcommands.
func completeValues(cmd *cli.Command, values FlagValues) cli.BashCompleteFunc {
	def := cli.DefaultCompleteWithFlags(cmd)
	return func(c *cli.Context) {
		var cur, prev string
		if n := len(os.Args); n > 3 {
			cur, prev = os.Args[n-2], os.Args[n-3]
		}
		if f := flagNamed(cmd, prev); f != nil && takesValue(f) && !strings.HasPrefix(cur, "-") {
			printValues(c.App.Writer, f, values)
			return
		}
		def(c)
	}
}

// flagNamed is the flag of cmd written as arg (-t, --template), or nil.
func flagNamed(cmd *cli.Command, arg string) cli.Flag {
	if !strings.HasPrefix(arg, "-") || strings.Contains(arg, "=") {
		return nil
	}
	name := strings.TrimLeft(arg, "-")
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	dv, ok := f.(cli.DocGenerationFlag)
	return ok && dv.TakesValue()
}

func printValues(w io.Writer, f cli.Flag, values FlagValues) {
	for _, n := range f.Names() {
		if get := values[n]; get != nil {
			for _, v := range get() {
				fmt.Fprintln(w, v)
			}
			return
		}
	}
}
