package commands

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/store"
)

// Images is "images" (list), with "rm".
func Images(prog string) *cli.Command {
	return named(prog, &cli.Command{
		Name:  "images",
		Usage: "list the local store",
		Description: `The store is an OCI image layout in $ECC_STORE_DIR, else $XDG_DATA_HOME/ecc/store
(~/.local/share/ecc/store); pulls and 'ecli run REF' fill it.

Examples:
   PROG images
   PROG images --format json
   PROG images rm ghcr.io/org/probe:v1`,
		Flags: []cli.Flag{&cli.StringFlag{Name: "format", Value: "text", Usage: "output `FORMAT`: text or json"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return Usagef(c, "expects no arguments, got %q (to remove one: '%s images rm REF')", c.Args().Slice(), c.App.Name)
			}
			st, err := OpenStore()
			if err != nil {
				return err
			}
			defer st.Close()
			imgs, err := st.List(c.Context)
			if err != nil {
				return err
			}
			if c.String("format") == "json" {
				if imgs == nil {
					imgs = []store.Image{}
				}
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(imgs)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tARCH\tSIZE\tCREATED")
			for _, im := range imgs {
				created := "-"
				if !im.Created.IsZero() {
					created = im.Created.Local().Format(time.DateTime)
				}
				var arches []string
				for _, p := range im.Platforms {
					_, a, _ := strings.Cut(p, "/")
					arches = append(arches, a)
				}
				d := im.Digest
				if len(d) > 19 {
					d = d[:19]
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", im.Repository, im.Tag, d, strings.Join(arches, ","), registry.HumanSize(im.Size), created)
			}
			return tw.Flush()
		},
		Subcommands: []*cli.Command{{
			Name:      "rm",
			Usage:     "remove references from the local store (unreferenced content goes too)",
			ArgsUsage: "REF...",
			Description: `Examples:
   PROG images rm ghcr.io/org/probe:v1
   PROG images rm 127.0.0.1:5000/probes/a:latest 127.0.0.1:5000/probes/b:latest`,
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return Usagef(c, "expects one or more REF")
				}
				store, err := OpenStore()
				if err != nil {
					return err
				}
				defer store.Close()
				for _, a := range c.Args().Slice() {
					ref, err := registry.ParseReference(a)
					name := a
					if err == nil {
						name = ref.String()
					}
					if err := store.Remove(c.Context, name); err != nil {
						return err
					}
					fmt.Fprintf(os.Stdout, "Removed %s\n", name)
				}
				return nil
			},
		}},
	})
}
