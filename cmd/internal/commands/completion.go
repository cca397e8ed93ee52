package commands

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// Completion is the "completion SHELL" command.
func Completion() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Description: `Examples:
   source <(PROG completion bash)
   PROG completion zsh > "${fpath[1]}/_PROG"
   PROG completion fish > ~/.config/fish/completions/PROG.fish`,
		Action: func(c *cli.Context) error {
			prog := c.App.Name
			switch c.Args().First() {
			case "bash":
				fmt.Print(strings.ReplaceAll(bashCompletion, "PROG", prog))
			case "zsh":
				fmt.Print(strings.ReplaceAll(zshCompletion, "PROG", prog))
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				fmt.Print(s + fishValues(c.App))
			default:
				return Usagef(c, "expects bash, zsh or fish, got %q", c.Args().First())
			}
			return nil
		},
		BashComplete: func(c *cli.Context) {
			for _, sh := range shells {
				fmt.Fprintln(c.App.Writer, sh)
			}
		},
	}
}

var shells = []string{"bash", "zsh", "fish"}

// fishValues completes the values of flags that Setup was given values
// for (bash and zsh ask the program, which answers from them too).
func fishValues(app *cli.App) string {
	values := appFlagValues(app)
	var b strings.Builder
	var walk func(cmds []*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			for _, f := range c.Flags {
				get := values[f.Names()[0]]
				if get == nil || !takesValue(f) {
					continue
				}
				fmt.Fprintf(&b, "complete -c %s -n '__fish_seen_subcommand_from %s' -l %s -x -a '%s'\n",
					app.Name, c.Name, f.Names()[0], strings.Join(get(), " "))
			}
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
	return b.String()
}

// The scripts ask the program itself what comes next, so they follow the
// commands and flags of the binary: they run the words typed so far, the
// word being completed (perhaps empty) last, then
// --generate-bash-completion (see completeValues); nothing offered means
// file names.
const bashCompletion = `# bash completion for PROG
_PROG_complete() {
	local cur words
	cur="${COMP_WORDS[COMP_CWORD]}"
	words=("${COMP_WORDS[@]:0:COMP_CWORD}")
	COMPREPLY=($(compgen -W "$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)" -- "$cur"))
	[[ ${#COMPREPLY[@]} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))
	return 0
}
complete -o filenames -F _PROG_complete PROG
`

const zshCompletion = `#compdef PROG
_PROG() {
	local -a opts
	opts=("${(@f)$("${(@)words[1,CURRENT]}" --generate-bash-completion 2>/dev/null)}")
	opts=(${opts:#})
	if (( ${#opts} )); then
		compadd -a opts
	else
		_files
	fi
}
# Autoloaded from $fpath (make install puts it in site-functions), or sourced.
if [[ "${funcstack[1]}" == _PROG ]]; then
	_PROG "$@"
else
	compdef _PROG PROG
fi
`
