package commands

import (
	"fmt"
	"io"
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
NAME.bpf.o and, for Wasm packages, NAME.wasm into -o DIR, by default a new
folder named after the repository (ghcr.io/org/execsnoop:v1 → ./execsnoop/).
Files already there are never replaced without --force: the pull is refused,
naming the file, before anything is written. NAME comes from the artifact
only when it is a plain file name, and nothing is written outside DIR. Pulls
are limited (--max-bytes, --max-manifests) and time out on a registry that
stops answering (--timeout). A progress bar shows on a terminal (stderr).
With --verify-key PUB or --policy FILE (or the default policy file, as for
'ecli run') REF is resolved once, that digest's signatures are checked, and
exactly that digest is pulled; a package that fails is not downloaded.

Examples:
   PROG pull ghcr.io/org/execsnoop:v1                  # into ./execsnoop/
   PROG pull -o out/ --platform linux/arm64 127.0.0.1:5000/probes/execsnoop:latest
   PROG pull --force -o . ghcr.io/org/execsnoop:v1     # here, replacing package.json
   PROG pull --format json ghcr.io/org/execsnoop:v1    # {"reference", "digest", "platform", "directory", "files"}
   PROG pull --verify-key ecc.pub ghcr.io/org/execsnoop:v1   # refused unless ecc.pub signed it`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the files to `DIR` (default: ./NAME, NAME the repository's last component)"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "replace files already in the folder"},
			&cli.StringFlag{Name: "platform", Usage: "the `OS/ARCH` to take from a multi-arch artifact (default: this host's)"},
			FormatFlag(),
		}, append(PolicyFlags(), RegistryFlags()...)...),
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
			policy, err := Policy(c)
			if err != nil {
				return err
			}
			src, err := registry.OpenTarget(c.Context, ref, o)
			if err != nil {
				return err
			}
			defer src.Close()
			// Under a policy: resolve once, check that digest's
			// signatures, then pull exactly it.
			if policy != nil && policy.NeedsVerification(ref) {
				root, err := registry.ResolveRoot(c.Context, src, ref)
				if err != nil {
					return err
				}
				if _, err := policy.Check(c.Context, src, ref, root); err != nil {
					return err
				}
				ref.Digest = root.Digest.String()
			}
			dir := c.String("output")
			if dir == "" {
				dir = ref.Name()
			}
			p, files, err := registry.PullTo(c.Context, src, ref, nil, dir, &registry.PullOptions{
				Platform: c.String("platform"), Progress: Progress(), OpenStore: openStore, Overwrite: c.Bool("force")})
			if err != nil {
				return err
			}
			if bad := p.Manifest.RefusedName; bad != "" {
				fmt.Fprintf(os.Stderr, "notice: %s names its files %q, which is not a plain file name; using %q\n", ref, bad, p.Package.Name)
			}
			res := pullJSON{Reference: ref.String(), Digest: p.Root.Digest.String(), Platform: p.Manifest.Platform, Directory: dir, Files: files}
			return Print(c, res, func(w io.Writer) error {
				fmt.Fprintf(w, "Pulled %s\nDigest: %s\n", ref, p.Root.Digest)
				for _, f := range files {
					fmt.Fprintf(w, "  %s\n", f)
				}
				return nil
			})
		},
	})
}

// pullJSON is what pull --format json prints (docs/output.md).
type pullJSON struct {
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
	// Platform is the one pulled, "linux/amd64"; empty for an artifact
	// that names none (a single manifest without a platform).
	Platform  string   `json:"platform"`
	Directory string   `json:"directory"`
	Files     []string `json:"files"`
}
