package commands

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified,omitempty"`
	Go        string `json:"go"`
	CiliumBPF string `json:"cilium_ebpf"`
	Oras      string `json:"oras_go"`
	Wazero    string `json:"wazero"`
}

// ReadBuildInfo reads the version stamps Go puts into the binary.
func ReadBuildInfo() BuildInfo {
	bi := BuildInfo{Version: "devel", Commit: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	bi.Go = info.GoVersion
	if v := info.Main.Version; v != "" && v != "(devel)" {
		bi.Version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Commit = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	for _, d := range info.Deps {
		v := d.Version
		if d.Replace != nil {
			v = d.Replace.Version
		}
		switch d.Path {
		case "github.com/cilium/ebpf":
			bi.CiliumBPF = v
		case "oras.land/oras-go/v2":
			bi.Oras = v
		case "github.com/tetratelabs/wazero":
			bi.Wazero = v
		}
	}
	return bi
}

// Version is the "version" command.
func Version() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, commit, Go and library versions",
		Description: `Examples:
   PROG version
   PROG version --format json`,
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Value: "text", Usage: "output `FORMAT`: text or json"}},
		Action: func(c *cli.Context) error {
			bi := ReadBuildInfo()
			if c.String("format") == "json" {
				return json.NewEncoder(os.Stdout).Encode(bi)
			}
			commit := bi.Commit
			if bi.Modified {
				commit += " (modified)"
			}
			fmt.Printf("%s %s\ncommit:      %s\ngo:          %s\ncilium/ebpf: %s\noras-go:     %s\nwazero:      %s\n",
				c.App.Name, bi.Version, commit, bi.Go, dash(bi.CiliumBPF), dash(bi.Oras), dash(bi.Wazero))
			return nil
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

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
