package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/attest"
	"github.com/ecc-bpf/ecc/packager/attest/statement"
	"github.com/ecc-bpf/ecc/registry"
)

func pushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "publish a package as an OCI artifact",
		ArgsUsage: "PACKAGE REF",
		Description: `PACKAGE is a build folder or a package.json; a multi-arch build folder
(ecc build --arch x86_64,arm64) pushes one manifest per architecture under an
index. REF is host[:port]/repo[:tag], oci:DIR[:tag] or oci-archive:FILE.tar[:tag].
Blobs the registry already has are not uploaded again. SOURCE_DATE_EPOCH sets
the creation time; without it none is recorded, so identical packages push
identical digests. Prints the digest; --format json prints {"reference",
"digest", "media_type", "size", "uploaded", "skipped"} for CI (docs/output.md).
A progress bar shows on a terminal (stderr).

Examples:
   ecc push build/ ghcr.io/org/probe:v1
   echo "$GITHUB_TOKEN" | ecc push -u "$GITHUB_ACTOR" --password-stdin build/ ghcr.io/org/probe:v1
   ecc push examples/execsnoop/ oci:/media/usb/probes:execsnoop
   ecc push --format json build/ 127.0.0.1:5000/probes/execsnoop:latest
   ecc push --eunomia build/examples/wasm-execsnoop-c ghcr.io/org/execsnoop-wasm:v1

A build folder holding NAME.wasm (ecc build --wasm) pushes it as a layer
beside the object; ecli run REF then runs the Wasm program.

With --attest, two in-toto statements are attached to the pushed index as
OCI referrers (artifactType application/vnd.in-toto+json): SLSA provenance v1
(the source and every header with their sha256, flags, clang, the BTF, ecc's
version) and an SPDX 2.3 SBOM, both made from the materials.json ecc build
wrote beside package.json. Registries without the referrers API get the OCI
referrers tag (sha256-HEX). 'ecc inspect REF' lists them. They are unsigned:
sign them with 'ecc sign' to make them evidence (docs/security.md).

   ecc push --attest build/ ghcr.io/org/probe:v1
   ecc push --attest --format json build/ 127.0.0.1:5000/probes/execsnoop:v1 | jq '.attestations'`,
		Flags: append([]cli.Flag{
			commands.FormatFlag(),
			&cli.BoolFlag{Name: "eunomia", Usage: "push only the Wasm module, in eunomia-bpf's artifact shape (for its ecli)"},
			&cli.BoolFlag{Name: "attest", Usage: "also attach SLSA provenance and an SPDX SBOM (in-toto statements) as referrers of the pushed package"},
		}, commands.RegistryFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return commands.Usagef(c, "expects PACKAGE and REF, got %s (e.g. 'ecc push build/ ghcr.io/org/probe:v1')", commands.NArgs(c))
			}
			pkgs, err := packager.OpenBuild(c.Args().Get(0))
			if errors.Is(err, fs.ErrNotExist) {
				return &commands.Advice{Err: err, Hint: fmt.Sprintf("build one with 'ecc build NAME.bpf.c -o %s'", c.Args().Get(0))}
			}
			if err != nil {
				return err
			}
			var mats map[string]*attest.Materials
			if c.Bool("attest") {
				if c.Bool("eunomia") {
					return commands.Usagef(c, "--attest and --eunomia do not go together: eunomia's Wasm artifact has no place for attestations")
				}
				if mats, err = attest.OpenBuildMaterials(c.Args().Get(0)); err != nil {
					return &commands.Advice{Err: fmt.Errorf("--attest: %w", err), Hint: fmt.Sprintf("rebuild with this ecc ('ecc build NAME.bpf.c -o %s'): it records the build's materials in %s", c.Args().Get(0), attest.MaterialsFile)}
				}
			}
			ref, err := registry.ParseReference(c.Args().Get(1))
			if err != nil {
				return err
			}
			o, err := commands.RegistryOptions(c)
			if err != nil {
				return err
			}
			po := &registry.PushOptions{Progress: commands.Progress(), Eunomia: c.Bool("eunomia")}
			if po.Created, err = sourceDateEpoch(); err != nil {
				return err
			}
			dst, err := registry.OpenTarget(c.Context, ref, o)
			if err != nil {
				return err
			}
			var res *registry.PushResult
			var out any
			var attested []registry.Attached
			if mats != nil {
				var ar *registry.AttestResult
				if ar, err = registry.PushAttested(c.Context, pkgs, mats, statement.All, dst, ref, po); err == nil {
					res, out, attested = ar.PushResult, ar, ar.Attestations
				}
			} else if res, err = registry.Push(c.Context, pkgs, dst, ref, po); err == nil {
				out = res
			}
			if cerr := dst.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%d blobs uploaded, %d already there\n", res.Uploaded, res.Skipped)
			return commands.Print(c, out, func(w io.Writer) error {
				if _, err := fmt.Fprintf(w, "Pushed %s\nDigest: %s\n", res.Reference, res.Digest); err != nil {
					return err
				}
				for _, a := range attested {
					if _, err := fmt.Fprintf(w, "Attached %s: %s\n", a.PredicateType, a.Digest); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
}

// sourceDateEpoch is the time SOURCE_DATE_EPOCH names, nil when unset.
func sourceDateEpoch() (*time.Time, error) {
	e := os.Getenv("SOURCE_DATE_EPOCH")
	if e == "" {
		return nil, nil
	}
	sec, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", e)
	}
	t := time.Unix(sec, 0).UTC()
	return &t, nil
}
