package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/ociimage"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/vm"
)

func ecliImageCommand() *cli.Command {
	return &cli.Command{
		Name:      "ecli-image",
		Usage:     "build the ecli container image (amd64 and arm64) from static ecli binaries and push it",
		ArgsUsage: "DEST",
		Description: `Builds a container image of ecli without Docker: one layer with the static
ecli at /usr/local/bin/ecli (the entrypoint), the build host's CA bundle at
/etc/ssl/certs/ca-certificates.crt (so ecli can pull packages over TLS),
/tmp (1777) and empty /proc, /sys and /sys/fs/bpf mount points. Each
platform gets an OCI image config and manifest, and an OCI index lists
linux/amd64 and linux/arm64. Files are owned by root and dated
SOURCE_DATE_EPOCH (else 1970-01-01), so the same binaries give the same
digests; org.opencontainers.image.version and .revision come from the
version Go stamped into ecli.

DEST is host[:port]/repo[:tag] (pushed like 'ecc push': credentials,
retries, a progress bar on a terminal), oci:DIR[:tag] or
oci-archive:FILE.tar[:tag]. The ecli binaries are --ecli (linux/amd64) and
--ecli-arm64 (linux/arm64), by default ecli and ecli-arm64 next to ecc, then
on PATH; 'make build' makes both (CGO_ENABLED=0). A dynamically linked or
wrong-architecture binary is refused. Prints the digest and each platform's
manifest and layer size; --format json prints {"reference", "digest",
"media_type", "size", "uploaded", "skipped", "platforms": [{"platform",
"binary", "manifest", "layer", "layer_size", "diff_id"}]} (docs/image.md).

Examples:
   make image REGISTRY=ghcr.io/org/ecli         # builds stripped static ecli, then this, tagged with ecc's version
   ecc ecli-image ghcr.io/org/ecli:v1
   ecc ecli-image --ecli bin/ecli --ecli-arm64 bin/ecli-arm64 127.0.0.1:5000/ecli:dev
   ecc ecli-image --platform linux/amd64 oci:/tmp/ecli-image:dev
   SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) ecc ecli-image oci-archive:ecli.tar
   skopeo copy oci:/tmp/ecli-image:dev docker-daemon:ecli:dev   # then: docker run --privileged ecli:dev run REF`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "ecli", Usage: "the static linux/amd64 ecli `FILE` (default: ecli next to ecc, then on PATH)"},
			&cli.StringFlag{Name: "ecli-arm64", Usage: "the static linux/arm64 ecli `FILE` (default: ecli-arm64 next to ecc, then on PATH)"},
			&cli.StringSliceFlag{Name: "platform", Value: cli.NewStringSlice(ociimage.Platforms...), Usage: "build for `PLATFORM` (linux/amd64, linux/arm64); repeatable or comma-separated"},
			&cli.StringFlag{Name: "ca-certs", Value: ociimage.HostCACerts, Usage: "install the CA bundle `FILE` as /etc/ssl/certs/ca-certificates.crt; \"\" for none"},
			&cli.StringFlag{Name: "version", Usage: "org.opencontainers.image.version `V` (default: the version stamped into ecli)"},
			commands.FormatFlag(),
		}, commands.RegistryFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return commands.Usagef(c, "expects DEST, got %s (e.g. 'ecc ecli-image ghcr.io/org/ecli:v1' or 'ecc ecli-image oci:out')", commands.NArgs(c))
			}
			ref, err := registry.ParseReference(c.Args().First())
			if err != nil {
				return err
			}
			o, err := ecliImageOptions(c)
			if err != nil {
				return err
			}
			img, err := ociimage.Build(o)
			if err != nil {
				return ecliImageAdvice(c, err)
			}
			ro, err := commands.RegistryOptions(c)
			if err != nil {
				return err
			}
			dst, err := registry.OpenTarget(c.Context, ref, ro)
			if err != nil {
				return err
			}
			res, err := registry.PushArtifact(c.Context, img.Artifact, dst, ref, &registry.PushOptions{Progress: commands.Progress()})
			if cerr := dst.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			out := struct {
				*registry.PushResult
				Platforms []ociimage.Platform `json:"platforms"`
			}{res, img.Platforms}
			fmt.Fprintf(os.Stderr, "%d blobs uploaded, %d already there\n", res.Uploaded, res.Skipped)
			return commands.Print(c, out, func(w io.Writer) error {
				fmt.Fprintf(w, "Pushed %s\nDigest: %s\n", res.Reference, res.Digest)
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "PLATFORM\tMANIFEST\tLAYER\tBINARY")
				for _, p := range img.Platforms {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Platform, p.Manifest, registry.HumanSize(p.LayerSize), p.Binary)
				}
				return tw.Flush()
			})
		},
	}
}

// ecliFlag is the flag naming each platform's ecli.
var ecliFlag = map[string]string{"linux/amd64": "ecli", "linux/arm64": "ecli-arm64"}

// ecliImageOptions reads the flags: the platforms, each one's ecli (given
// or found), the CA bundle and the date.
func ecliImageOptions(c *cli.Context) (*ociimage.Options, error) {
	var platforms []string
	for _, v := range c.StringSlice("platform") {
		for p := range strings.SplitSeq(v, ",") {
			p = strings.TrimSpace(p)
			if _, ok := ecliFlag[p]; !ok {
				return nil, commands.Usagef(c, "--platform %q: the ecli image is built for %s", p, strings.Join(ociimage.Platforms, " and "))
			}
			if !slices.Contains(platforms, p) {
				platforms = append(platforms, p)
			}
		}
	}
	for p, flag := range ecliFlag {
		if c.IsSet(flag) && !slices.Contains(platforms, p) {
			return nil, commands.Usagef(c, "--%s is the %s ecli, and --platform leaves %s out", flag, p, p)
		}
	}
	o := &ociimage.Options{Version: c.String("version")}
	for _, p := range platforms {
		path := c.String(ecliFlag[p])
		if path == "" {
			var err error
			if path, err = findEcli(p); err != nil {
				return nil, err
			}
		}
		o.Binaries = append(o.Binaries, ociimage.Binary{Path: path, Platform: p})
	}
	o.CACerts = c.String("ca-certs")
	if !c.IsSet("ca-certs") {
		if _, err := os.Stat(o.CACerts); err != nil {
			fmt.Fprintf(os.Stderr, "ecc: no CA bundle at %s: the image will hold none (ecli in it cannot pull over TLS); name one with --ca-certs FILE\n", o.CACerts)
			o.CACerts = ""
		}
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return nil, err
	}
	o.Created = created
	return o, nil
}

// findEcli is the ecli for platform next to ecc, else on PATH, by the
// names ecc test looks for (ecli-arm64; ecli for this machine's).
func findEcli(platform string) (string, error) {
	names := vm.EcliNames(packager.KernelArch(strings.TrimPrefix(platform, "linux/")))
	if exe, err := os.Executable(); err == nil {
		for _, n := range names {
			if p := filepath.Join(filepath.Dir(exe), n); fileExists(p) {
				return p, nil
			}
		}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	flag := ecliFlag[platform]
	return "", &commands.Advice{
		Err:  fmt.Errorf("no %s ecli found: none named %s next to ecc or on PATH", platform, strings.Join(names, " or ")),
		Hint: fmt.Sprintf("build it with 'make build' (bin/%s), pass --%s FILE, or leave the platform out with --platform", flag, flag),
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// ecliImageAdvice names the flag of a binary the image cannot hold.
func ecliImageAdvice(c *cli.Context, err error) error {
	var be *ociimage.BinaryError
	if errors.As(err, &be) && c.IsSet(ecliFlag[be.Platform]) {
		return fmt.Errorf("--%s %w", ecliFlag[be.Platform], err)
	}
	return err
}
