package commands

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/registry"
)

// Tag is "tag SRC DST" within the local store.
func Tag(prog string) *cli.Command {
	return named(prog, &cli.Command{
		Name:      "tag",
		Usage:     "give a package in the local store another name",
		ArgsUsage: "SRC DST",
		Description: `Examples:
   PROG tag 127.0.0.1:5000/probes/execsnoop:latest ghcr.io/org/execsnoop:v1
   PROG tag --format json ghcr.io/org/execsnoop:v1 localhost/execsnoop:dev   # {"source", "target"}`,
		Flags: []cli.Flag{FormatFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return Usagef(c, "expects SRC and DST, got %s", NArgs(c))
			}
			var names [2]string
			for i, a := range c.Args().Slice() {
				ref, err := registry.ParseReference(a)
				if err != nil {
					return err
				}
				names[i] = ref.String()
			}
			store, err := OpenStore()
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.TagRef(c.Context, names[0], names[1]); err != nil {
				return err
			}
			return Print(c, map[string]string{"source": names[0], "target": names[1]}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Tagged %s as %s\n", names[0], names[1])
				return err
			})
		},
	})
}
