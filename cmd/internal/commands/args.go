package commands

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// completionFlag is how the completion scripts ask the program what comes
// next (urfave/cli's flag).
const completionFlag = "--generate-bash-completion"

// Intersperse lets flags follow positional arguments ("ecc login HOST -u
// USER --password-stdin"), which urfave/cli v2 does not parse: it moves the
// flags of the command named in args ahead of its positional arguments.
// Commands in keepTail (e.g. "run", whose trailing arguments are the
// program's own flags) are left as they are. "--" ends the flags.
func Intersperse(app *cli.App, args []string, keepTail ...string) []string {
	if len(args) < 2 {
		return args
	}
	// Shell completion asks with "--generate-bash-completion" last, where
	// urfave/cli looks for it. It answers nothing when an argument is "--"
	// (after which flags end), so "--" being completed, which asks for the
	// long flags, is passed as "-" (urfave/cli reads the word itself from
	// os.Args).
	if last := len(args) - 1; args[last] == completionFlag {
		words := slices.Clone(args[:last])
		if words[last-1] == "--" {
			words[last-1] = "-"
		}
		return append(Intersperse(app, words, keepTail...), completionFlag)
	}
	cmds := app.Commands
	i := 1
	var cmd *cli.Command
	for i < len(args) {
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(args[i]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		cmd, cmds = next, next.Subcommands
		i++
	}
	if cmd == nil {
		return args
	}
	for _, k := range keepTail {
		if cmd.HasName(k) {
			return args
		}
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	rest := args[i:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			pos = append(pos, rest[j:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if takesValue[name] {
			if j+1 == len(rest) {
				// The last word is a flag without its value: leave it
				// last, so that the command says so rather than take
				// an argument as the value.
				return append(slices.Clone(args[:i]), flags...)
			}
			flags = append(flags, rest[j+1])
			j++
		}
	}
	out := append([]string{}, args[:i]...)
	out = append(out, flags...)
	return append(out, pos...)
}
