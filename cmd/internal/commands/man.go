package commands

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/urfave/cli/v2"
)

// Man is the hidden "man" command: the manual page of the program, in
// roff, made from the command line's own definition (every command, its
// arguments, description, examples and flags), so that it never drifts
// from --help. make install writes it to share/man/man1/PROG.1.
func Man() *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the manual page, in roff",
		Description: `Examples:
   PROG man | man -l -
   PROG man > /usr/local/share/man/man1/PROG.1`,
		Hidden: true,
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return Usagef(c, "expects no arguments, got %s", NArgs(c))
			}
			_, err := os.Stdout.Write(ManPage(c.App, ReadBuildInfo().Version))
			return err
		},
	}
}

// ManPage renders app's manual page, section 1, in roff; version goes in
// its footer.
func ManPage(app *cli.App, version string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%% %s 1 \"\" \"%s %s\"\n\n", app.Name, app.Name, version)
	fmt.Fprintf(&b, "# NAME\n\n%s - %s\n\n", app.Name, mdText(app.Usage))
	fmt.Fprintf(&b, "# SYNOPSIS\n\n**%s** *COMMAND* [*FLAGS*] [*ARGUMENTS*]\n\n**%s** **--version**\n\n", app.Name, app.Name)
	if app.Description != "" {
		fmt.Fprintf(&b, "# DESCRIPTION\n\n%s\n", mdDescription(app.Description))
	}
	b.WriteString("# COMMANDS\n\n")
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Hidden {
				continue
			}
			name := path + " " + c.Name
			fmt.Fprintf(&b, "### %s\n\n", name) // .SS
			synopsis := "**" + name + "**"
			if len(c.Flags) > 0 {
				synopsis += " [*FLAGS*]"
			}
			if c.ArgsUsage != "" {
				synopsis += " " + mdText(c.ArgsUsage)
			}
			fmt.Fprintf(&b, "%s\n\n", synopsis)
			if c.Usage != "" {
				fmt.Fprintf(&b, "%s.\n\n", mdText(upperFirst(c.Usage)))
			}
			if c.Description != "" {
				fmt.Fprintf(&b, "%s\n", mdDescription(c.Description))
			}
			for _, f := range c.Flags {
				spec, usage, _ := strings.Cut(cli.FlagStringer(f), "\t")
				fmt.Fprintf(&b, "**%s**\n: %s\n\n", mdText(spec), mdText(usage))
			}
			walk(name, c.Subcommands)
		}
	}
	walk(app.Name, app.Commands)
	other := map[string]string{"ecc": "ecli", "ecli": "ecc"}[app.Name]
	if other != "" {
		fmt.Fprintf(&b, "# SEE ALSO\n\n**%s**(1)\n", other)
	}
	return md2man.Render([]byte(b.String()))
}

// mdDescription writes a description as markdown: paragraphs as they are,
// lines indented by spaces (examples) as code blocks.
func mdDescription(s string) string {
	var b strings.Builder
	inCode := false
	for line := range strings.Lines(s + "\n") {
		line = strings.TrimRight(line, "\n")
		indented := strings.HasPrefix(line, " ")
		switch {
		case indented && !inCode:
			b.WriteString("\n")
			inCode = true
		case !indented && inCode && line != "":
			b.WriteString("\n")
			inCode = false
		}
		if inCode {
			b.WriteString("    " + strings.TrimPrefix(line, "   ") + "\n")
		} else {
			b.WriteString(mdText(line) + "\n")
		}
	}
	return b.String()
}

// mdSpecial are the characters markdown would read as markup in prose.
var mdSpecial = regexp.MustCompile("[\\\\`*_\\[\\]<>#|]")

func mdText(s string) string { return mdSpecial.ReplaceAllString(s, `\$0`) }

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
