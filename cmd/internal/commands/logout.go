package commands

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/registry"
)

// Logout is "logout REGISTRY".
func Logout(prog string) *cli.Command {
	return named(prog, &cli.Command{
		Name:      "logout",
		Usage:     "forget a registry's credentials",
		ArgsUsage: "REGISTRY",
		Description: `Examples:
   PROG logout ghcr.io
   PROG logout --format json 127.0.0.1:5000   # {"registry"}`,
		Flags: []cli.Flag{RegistryConfigFlag(), FormatFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return Usagef(c, "expects one REGISTRY, got %s", NArgs(c))
			}
			o := &registry.Options{RegistryConfig: c.String("registry-config"), Stderr: os.Stderr}
			if err := registry.Logout(c.Context, c.Args().First(), o); err != nil {
				return err
			}
			return Print(c, map[string]string{"registry": c.Args().First()}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Removed credentials for %s\n", c.Args().First())
				return err
			})
		},
	})
}
