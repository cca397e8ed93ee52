package commands

import (
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
   PROG images --format json | jq -r '.[].reference'
   PROG images rm ghcr.io/org/probe:v1`,
		Flags: []cli.Flag{FormatFlag()},
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
			if JSON(c) {
				out := []imageJSON{}
				for _, im := range imgs {
					out = append(out, newImageJSON(im))
				}
				return WriteJSON(os.Stdout, out)
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
   PROG images rm 127.0.0.1:5000/probes/a:latest 127.0.0.1:5000/probes/b:latest
   PROG images rm --format json ghcr.io/org/probe:v1   # {"removed": [...]}`,
			Flags: []cli.Flag{FormatFlag()},
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return Usagef(c, "expects one or more REF")
				}
				store, err := OpenStore()
				if err != nil {
					return err
				}
				defer store.Close()
				removed := []string{}
				for _, a := range c.Args().Slice() {
					ref, err := registry.ParseReference(a)
					name := a
					if err == nil {
						name = ref.String()
					}
					if err := store.Remove(c.Context, name); err != nil {
						return err
					}
					if !JSON(c) {
						fmt.Fprintf(os.Stdout, "Removed %s\n", name)
					}
					removed = append(removed, name)
				}
				if JSON(c) {
					return WriteJSON(os.Stdout, map[string][]string{"removed": removed})
				}
				return nil
			},
		}},
	})
}

// imageJSON is an entry of images --format json (docs/output.md).
type imageJSON struct {
	Reference  string   `json:"reference"`
	Repository string   `json:"repository"`
	Tag        string   `json:"tag"`
	Digest     string   `json:"digest"`
	MediaType  string   `json:"media_type"`
	Platforms  []string `json:"platforms"`
	Size       int64    `json:"size"`
	// Created is RFC 3339 in UTC, or null when the artifact records no time.
	Created *time.Time `json:"created"`
	Title   string     `json:"title"`
}

func newImageJSON(im store.Image) imageJSON {
	j := imageJSON{Reference: im.Reference, Repository: im.Repository, Tag: im.Tag, Digest: im.Digest,
		MediaType: im.MediaType, Platforms: im.Platforms, Size: im.Size, Title: im.Title}
	if j.Platforms == nil {
		j.Platforms = []string{}
	}
	if !im.Created.IsZero() {
		utc := im.Created.UTC()
		j.Created = &utc
	}
	return j
}
