package commands

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/internal/bpfobj"
	"github.com/ecc-bpf/ecc/internal/termsafe"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/sign"
	"github.com/ecc-bpf/ecc/runtime/attach"
	"github.com/ecc-bpf/ecc/source"
)

// Inspect is "inspect PACKAGE|REF".
func Inspect(prog string) *cli.Command {
	return named(prog, &cli.Command{
		Name:      "inspect",
		Usage:     "summarise a package: programs, maps, flags, export types",
		ArgsUsage: "PACKAGE|REF",
		Description: `PACKAGE is a package.json, a NAME.skel.json, a build folder, a bare
NAME.bpf.o (its metadata derived as 'ecli run' derives it), an https:// URL of
a package.json (fetched as 'ecli run' does: http:// only with --plain-http,
never across a redirect from https to http) or - for standard input; REF a
package in the local store or on a registry (read without storing it).

With --format json it prints the package's metadata (the "meta" of
package.json: bpf_skel, export_types, ...), as docs/format.md describes.

For a REF it also lists what refers to the package where the reference
lives: attestations (ecc push --attest's SLSA provenance and SPDX SBOM, or
any in-toto statement) and signatures, found through the OCI referrers API,
the referrers tag, or cosign's sha256-HEX.sig and .att tags; in JSON as
"attestations" and "signatures" (docs/output.md). Listing is not verifying:
with --verify-key PUB each signature that PUB verifies, and each
attestation that PUB signed (ecc sign --attestations), names it as its
signer; the others say "unverified".

Examples:
   PROG inspect examples/execsnoop/package.json
   PROG inspect --format json ghcr.io/org/probe:v1 | jq '.bpf_skel.progs'
   PROG inspect --format json ghcr.io/org/probe:v1 | jq '.attestations[].predicate_type'
   PROG inspect --verify-key ecc.pub ghcr.io/org/probe:v1   # signatures name their signer`,
		Flags: append([]cli.Flag{
			FormatFlag(),
			&cli.StringFlag{Name: "platform", Usage: "the `OS/ARCH` of a multi-arch artifact (default: this host's)"},
			&cli.StringSliceFlag{Name: "verify-key", Usage: "for a REF: name the signer of each signature the public key `FILE` verifies (repeatable)"},
		}, RegistryFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return Usagef(c, "expects one PACKAGE or REF, got %s", NArgs(c))
			}
			// The package is opened as ecli run opens it, but a NAME.skel.json
			// is shown too and a reference missing from the local store is
			// read from its registry without storing it.
			uo := URLOptions(c)
			src, err := source.Open(c.Context, c.Args().First(), &source.OpenOptions{
				Stdin:        os.Stdin,
				Registry:     func() (*registry.Options, error) { return RegistryOptions(c) },
				Platform:     c.String("platform"),
				Progress:     Progress(),
				NoStore:      true,
				MetadataOnly: true,
				PlainHTTP:    uo.PlainHTTP, CAFile: uo.CAFile, Insecure: uo.Insecure, Timeout: uo.Timeout,
			})
			if err != nil {
				return err
			}
			if src.Package == nil {
				return fmt.Errorf("%s is a Wasm-only package: it has no BPF metadata to show", src.Name)
			}
			p := src.Package
			// What is shown is the object; metadata that says otherwise is
			// refused, as ecli run refuses it.
			if err := p.CheckObject(); err != nil {
				return fmt.Errorf("%s: %w; the metadata does not describe this package's object", c.Args().First(), err)
			}
			refs := inspectReferrers(c)
			return Print(c, inspectJSON{meta: &p.Meta, refs: refs}, func(out io.Writer) error {
				w := bufio.NewWriter(out)
				if err := packager.WriteSummary(w, p); err != nil {
					return err
				}
				writePlans(w, p)
				writeReferrers(w, refs)
				return w.Flush()
			})
		},
	})
}

// inspectReferrers lists the signatures and attestations of a REF
// argument where it lives; nil for files, URLs and stdin. Failing to list
// them is a note, not an error: the package itself may have come from
// the local store.
func inspectReferrers(c *cli.Context) *registry.PackageReferrers {
	arg := c.Args().First()
	if _, err := os.Stat(arg); err == nil || arg == "-" {
		return nil
	}
	ref, err := registry.ParseReference(arg)
	if err != nil {
		return nil
	}
	o, err := RegistryOptions(c)
	if err == nil {
		var refs *registry.PackageReferrers
		if refs, err = registry.ReferrersOf(c.Context, ref, o); err == nil {
			nameSigners(c, ref, o, refs)
			return refs
		}
	}
	fmt.Fprintf(os.Stderr, "%s: note: signatures and attestations of %s not listed: %v\n", c.App.Name, ref, err)
	return nil
}

// nameSigners verifies the signatures of refs with each --verify-key and
// names the key as the signer of those it verifies, and of the
// attestations whose manifest digest it signed (ecc sign --attestations);
// the others are "unverified" when keys were given. A key that cannot be
// read is a note.
func nameSigners(c *cli.Context, ref registry.Reference, o *registry.Options, refs *registry.PackageReferrers) {
	files := c.StringSlice("verify-key")
	if len(files) == 0 {
		return
	}
	keys, err := sign.LoadPublicKeys(files)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: note: signers not named: %v\n", c.App.Name, err)
		return
	}
	if err := sign.NameSigners(c.Context, ref, o, refs, keys); err != nil {
		fmt.Fprintf(os.Stderr, "%s: note: signers not named: %v\n", c.App.Name, err)
	}
}

// inspectJSON is the metadata, with the REF's referrers beside its keys.
type inspectJSON struct {
	meta *packager.Meta
	refs *registry.PackageReferrers
}

func (i inspectJSON) MarshalJSON() ([]byte, error) {
	if i.refs == nil {
		return json.Marshal(i.meta)
	}
	data, err := json.Marshal(i.meta)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	for k, v := range map[string]any{"subject": i.refs.Subject, "signatures": i.refs.Signatures, "attestations": i.refs.Attestations} {
		if obj[k], err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	return json.Marshal(obj)
}

// writeReferrers lists a REF's signatures and attestations.
func writeReferrers(w io.Writer, refs *registry.PackageReferrers) {
	if refs == nil {
		return
	}
	list := func(title string, rs []registry.Referrer) {
		fmt.Fprintf(w, "\n%s of %s (%d)\n", title, refs.Subject, len(rs))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, r := range rs {
			what := r.PredicateType
			if what == "" {
				what = r.ArtifactType
			}
			where := "referrer"
			if r.Tag != "" {
				where = "tag " + r.Tag
			}
			where = termsafe.Line(where)
			if r.Signer != "" {
				where += "\tsigner " + termsafe.Line(r.Signer)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", termsafe.Line(what), r.Digest, where)
		}
		tw.Flush()
	}
	list("signatures", refs.Signatures)
	list("attestations", refs.Attestations)
}

// writePlans says how ecli run would attach each program of the object on
// this machine with no flags, e.g. "usdt /usr/bin/app:app:request (3
// sites)", or which flag it needs. Without an object (a NAME.skel.json)
// the metadata's sections stand in.
func writePlans(w io.Writer, p *packager.Package) {
	progs, err := p.Programs()
	if err != nil || len(progs) == 0 {
		return
	}
	var spec *ebpf.CollectionSpec
	if p.Object != nil {
		if spec, err = bpfobj.LoadSpec(p.Object); err != nil {
			return
		}
	}
	fmt.Fprintf(w, "\nattach (ecli run on this machine, without flags) (%d)\n", len(progs))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, pr := range progs {
		ps := &ebpf.ProgramSpec{Name: pr.Name, SectionName: pr.Attach}
		if spec != nil {
			ps = spec.Programs[pr.Name]
		}
		var how string
		var pe *attach.PlanError
		plan, err := attach.PlanFor(ps, nil)
		switch {
		case errors.As(err, &pe):
			how = pe.Msg // the program is named in the first column
		case err != nil:
			how = err.Error()
		default:
			how = plan.String()
		}
		fmt.Fprintf(tw, "  %s\t%s\n", termsafe.Line(pr.Name), termsafe.Line(how))
	}
	tw.Flush()
}
