// Package commands holds the CLI commands ecc and ecli share.
package commands

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/packager"
)

// Inspect is "inspect PACKAGE".
func Inspect() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "summarise a package: programs, maps, flags, export types",
		ArgsUsage: "PACKAGE",
		Description: `PACKAGE is a package.json, a NAME.skel.json or a build folder.

Examples:
   ecc inspect examples/execsnoop/package.json
   ecc inspect --format json examples/runqlat/`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "output `FORMAT`: text or json (the metadata)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("%s inspect takes one PACKAGE (got %d arguments); see '%s inspect --help'", c.App.Name, c.NArg(), c.App.Name)
			}
			p, err := packager.Open(c.Args().First())
			if err != nil {
				return err
			}
			switch c.String("format") {
			case "json":
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(&p.Meta)
			case "text":
				w := bufio.NewWriter(os.Stdout)
				if err := packager.WriteSummary(w, p); err != nil {
					return err
				}
				return w.Flush()
			}
			return fmt.Errorf("--format %q: use text or json", c.String("format"))
		},
	}
}
