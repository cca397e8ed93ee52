package commands

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// named puts the program's name into a command's examples.
func named(prog string, c *cli.Command) *cli.Command {
	c.Description = strings.ReplaceAll(c.Description, "PROG", prog)
	for _, sub := range c.Subcommands {
		named(prog, sub)
	}
	return c
}

// Named puts the program's name into a shared command's examples.
func Named(prog string, c *cli.Command) *cli.Command { return named(prog, c) }
