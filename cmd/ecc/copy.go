package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
	"github.com/ecc-bpf/ecc/registry"
)

func copyCommand() *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Aliases:   []string{"cp"},
		Usage:     "copy a package with its signatures and attestations to another registry, oci:DIR or oci-archive:FILE",
		ArgsUsage: "SRC DST",
		Description: `SRC and DST are host[:port]/repo[:tag|@digest], oci:DIR[:tag] or
oci-archive:FILE.tar[:tag] (the tag defaults to latest, as everywhere). Every
platform of the package is copied, with what refers to it: signatures (ecc
sign, cosign sign) and attestations (ecc push --attest), found through the
OCI referrers API, the referrers tag or cosign's sha256-HEX.sig and .att
tags, and the referrers of those. At DST they verify as at SRC (ecc verify,
ecli run --verify-key): the digest does not change. Blobs DST has are not
sent again. --max-bytes bounds the whole copy.

--format json prints {"source", "target", "digest", "referrers",
"cosign_tags", "bytes"} (docs/output.md).

Examples:
   ecc copy ghcr.io/org/probe:v1 oci-archive:probe.tar:v1       # carry it into an air-gapped network
   ecc copy oci-archive:probe.tar:v1 registry.internal:5000/probe:v1
   ecli run --verify-key org.pub oci-archive:probe.tar:v1`,
		Flags: append([]cli.Flag{commands.FormatFlag()}, commands.RegistryFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return commands.Usagef(c, "expects SRC and DST, got %s (e.g. 'ecc copy ghcr.io/org/probe:v1 oci-archive:probe.tar')", commands.NArgs(c))
			}
			var refs [2]registry.Reference
			for i, a := range c.Args().Slice() {
				ref, err := registry.ParseReference(a)
				if err != nil {
					return err
				}
				refs[i] = ref
			}
			o, err := commands.RegistryOptions(c)
			if err != nil {
				return err
			}
			res, err := registry.Copy(c.Context, refs[0], refs[1], o)
			if err != nil {
				return err
			}
			return commands.Print(c, res, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "Copied %s to %s\nDigest: %s\nReferrers: %d (%d cosign tags)\n", res.Source, res.Target, res.Digest, len(res.Referrers), len(res.CosignTags))
				return err
			})
		},
	}
}
