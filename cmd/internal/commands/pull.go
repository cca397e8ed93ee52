package commands

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/store"
)

// Pull is "pull REF".
func Pull(prog string) *cli.Command {
	return named(prog, &cli.Command{
		Name:      "pull",
		Usage:     "download a package into the local store and write its files",
		ArgsUsage: "REF",
		Description: `REF is host[:port]/repo[:tag|@digest], oci:DIR[:tag] or oci-archive:FILE.tar[:tag].
Every blob is checked against its digest and size; the local store keeps the
artifact under REF (the index, and the platform pulled). Writes package.json,
NAME.bpf.o and, for Wasm packages, NAME.wasm into -o DIR; NAME comes from the
artifact only when it is a plain file name, and nothing is written outside
DIR. Pulls are limited (--max-bytes, --max-manifests) and time out on a
registry that stops answering (--timeout).

Examples:
   PROG pull ghcr.io/org/probe:v1
   PROG pull --platform linux/arm64 -o out/ 127.0.0.1:5000/probes/execsnoop:latest`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: ".", Usage: "write the files to `DIR`"},
			&cli.StringFlag{Name: "platform", Usage: "the `OS/ARCH` to take from a multi-arch artifact (default: this host's)"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "output `FORMAT`: text or json"},
		}, RegistryFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return Usagef(c, "expects one REF, got %s (e.g. '%s pull ghcr.io/org/probe:v1')", NArgs(c), c.App.Name)
			}
			ref, err := registry.ParseReference(c.Args().First())
			if err != nil {
				return err
			}
			o, err := RegistryOptions(c)
			if err != nil {
				return err
			}
			// The store opens (the first time: is created) while the
			// manifest is on its way.
			var st *store.Store
			var storeErr error
			opened := make(chan struct{})
			go func() {
				defer close(opened)
				st, storeErr = OpenStore()
			}()
			defer func() {
				<-opened
				if st != nil {
					st.Close()
				}
			}()
			openStore := func() (*store.Store, error) { <-opened; return st, storeErr }
			src, err := registry.OpenTarget(c.Context, ref, o)
			if err != nil {
				return err
			}
			defer src.Close()
			p, files, err := registry.PullTo(c.Context, src, ref, nil, c.String("output"),
				&registry.PullOptions{Platform: c.String("platform"), Progress: Progress(), OpenStore: openStore})
			if err != nil {
				return err
			}
			if bad := p.Manifest.RefusedName; bad != "" {
				fmt.Fprintf(os.Stderr, "notice: %s names its files %q, which is not a plain file name; using %q\n", ref, bad, p.Package.Name)
			}
			if c.String("format") == "json" {
				return json.NewEncoder(os.Stdout).Encode(map[string]any{"reference": ref.String(), "digest": p.Root.Digest.String(), "files": files})
			}
			fmt.Fprintf(os.Stdout, "Pulled %s\nDigest: %s\n", ref, p.Root.Digest)
			for _, f := range files {
				fmt.Fprintf(os.Stdout, "  %s\n", f)
			}
			return nil
		},
	})
}
