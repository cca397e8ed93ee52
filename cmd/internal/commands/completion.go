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
				fmt.Print(s)
			default:
				return fmt.Errorf("completion takes bash, zsh or fish (got %q)", c.Args().First())
			}
			return nil
		},
	}
}

// The scripts ask the program itself (--generate-bash-completion) what
// comes next, so they follow the commands and flags of the binary.
const bashCompletion = `# bash completion for PROG
_PROG_complete() {
	local cur words
	cur="${COMP_WORDS[COMP_CWORD]}"
	words=("${COMP_WORDS[@]:0:COMP_CWORD}")
	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W "$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "$("${words[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
	fi
	[[ ${#COMPREPLY[@]} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))
	return 0
}
complete -o filenames -F _PROG_complete PROG
`

const zshCompletion = `#compdef PROG
_PROG() {
	local -a opts
	opts=("${(@f)$(${words[@]:0:$((CURRENT-1))} --generate-bash-completion 2>/dev/null)}")
	_describe 'values' opts || _files
}
compdef _PROG PROG
`
