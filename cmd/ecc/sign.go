package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ecc-bpf/ecc/cmd/internal/commands"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/sign"
)

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage signing keys",
		Subcommands: []*cli.Command{{
			Name:  "generate",
			Usage: "write a key pair for ecc sign and ecc verify",
			Description: `Writes PREFIX.key, the private key (PKCS#8 PEM, mode 0600, not encrypted:
keep it in a secret store), and PREFIX.pub, the public key to hand to
whoever verifies (ecc verify --key, ecli run --verify-key, cosign verify
--key). Refuses to overwrite either file. --format json prints {"key",
"public_key", "algorithm", "key_id"} (docs/output.md).

Examples:
   ecc key generate
   ecc key generate --output-key-prefix release --algorithm ed25519`,
			Flags: []cli.Flag{
				commands.FormatFlag(),
				&cli.StringFlag{Name: "output-key-prefix", Value: "ecc", Usage: "write `PREFIX`.key and PREFIX.pub"},
				&cli.StringFlag{Name: "algorithm", Value: sign.ECDSAP256, Usage: "`ALGORITHM`: ecdsa-p256 or ed25519"},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() != 0 {
					return commands.Usagef(c, "takes no arguments, got %s", commands.NArgs(c))
				}
				keyFile, pubFile, err := sign.WriteKeyPair(c.String("output-key-prefix"), c.String("algorithm"))
				if err != nil {
					return err
				}
				k, err := sign.LoadPublicKey(pubFile)
				if err != nil {
					return err
				}
				res := map[string]string{"key": keyFile, "public_key": pubFile, "algorithm": c.String("algorithm"), "key_id": k.ID}
				return commands.Print(c, res, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "Private key: %s (keep it secret)\nPublic key:  %s\nKey ID:      %s\n", keyFile, pubFile, k.ID)
					return err
				})
			},
		}},
	}
}

// cosignPassword is COSIGN_PASSWORD, nil when it is not set.
func cosignPassword() []byte {
	if p, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
		return []byte(p)
	}
	return nil
}

// signArgs checks that the command got one REF and returns it with the
// registry options of its flags.
func signArgs(c *cli.Context, example string) (registry.Reference, *registry.Options, error) {
	if c.NArg() != 1 {
		return registry.Reference{}, nil, commands.Usagef(c, "expects REF, got %s (e.g. '%s')", commands.NArgs(c), example)
	}
	ref, err := registry.ParseReference(c.Args().Get(0))
	if err != nil {
		return ref, nil, err
	}
	o, err := commands.RegistryOptions(c)
	return ref, o, err
}

func signCommand() *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign a pushed package",
		ArgsUsage: "REF",
		Description: `Signs the digest REF resolves to (of a multi-arch package, its index) in
cosign's format: a simple-signing payload naming the repository and the
digest, signed with KEY, stored under cosign's tag sha256-HEX.sig and as an
OCI 1.1 referrer of the digest. Signatures already there are kept, so
several keys can sign. KEY is a PEM private key (PKCS#8 or SEC 1; ECDSA
P-256 or Ed25519) or cosign's encrypted key file, decrypted with
$COSIGN_PASSWORD. No transparency log is written. With --attestations the
attestations that refer to the digest (ecc push --attest's provenance and
SBOM) are signed too, each by its manifest's digest: 'ecc inspect
--verify-key PUB REF' then names their signer. --format json prints
{"reference", "digest", "signature", "tag", "key_id"}, and "attestations",
the same for each, with --attestations (docs/output.md).

Examples:
   ecc sign --key ecc.key ghcr.io/org/probe:v1
   ecc sign --attestations --key ecc.key ghcr.io/org/probe:v1   # and its provenance and SBOM
   COSIGN_PASSWORD=... ecc sign --key cosign.key 127.0.0.1:5000/probes/execsnoop@sha256:...
   ecc sign --key ecc.key oci:/media/usb/probes:execsnoop`,
		Flags: append([]cli.Flag{
			commands.FormatFlag(),
			&cli.StringFlag{Name: "key", Required: true, Usage: "sign with the private key in `FILE`"},
			&cli.BoolFlag{Name: "attestations", Usage: "also sign the attestations that refer to the package (provenance, SBOM)"},
		}, commands.RegistryFlags()...),
		Action: func(c *cli.Context) error {
			ref, o, err := signArgs(c, "ecc sign --key ecc.key ghcr.io/org/probe:v1")
			if err != nil {
				return err
			}
			s, err := sign.LoadPrivateKey(c.String("key"), cosignPassword())
			if err != nil {
				return err
			}
			res, err := sign.SignReference(c.Context, ref, o, s)
			if err != nil {
				return err
			}
			out := signJSON{Signed: res}
			if c.Bool("attestations") {
				// The digest signed, not the tag again.
				pinned := ref
				pinned.Digest = res.Digest
				if out.Attestations, err = sign.SignAttestations(c.Context, pinned, o, s); err != nil {
					return err
				}
			}
			return commands.Print(c, out, func(w io.Writer) error {
				fmt.Fprintf(w, "Signed %s\nDigest: %s\nSignature: %s (%s)\n", res.Reference, res.Digest, res.Tag, res.Signature)
				for _, a := range out.Attestations {
					fmt.Fprintf(w, "Signed the attestation %s: %s\n", a.Digest, a.Tag)
				}
				return nil
			})
		},
	}
}

// signJSON is what ecc sign --format json prints.
type signJSON struct {
	*sign.Signed
	Attestations []*sign.Signed `json:"attestations,omitempty"`
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a package's signatures",
		ArgsUsage: "REF",
		Description: `Resolves REF once and checks that each --key has signed that digest
(cosign's format, by tag or referrer; see ecc sign). Exits 1 with one line
naming the reference, the digest and what is missing or wrong otherwise.
Accepts what 'cosign sign --key' made (no transparency log is consulted).
--format json prints {"reference", "digest", "signatures": [{"key_id",
"key", "manifest", "docker_reference"}]} (docs/output.md).

Examples:
   ecc verify --key ecc.pub ghcr.io/org/probe:v1
   ecc verify --key release.pub --key security.pub --format json ghcr.io/org/probe:v1
   ecc verify --key cosign.pub oci:/media/usb/probes:execsnoop`,
		Flags: append([]cli.Flag{
			commands.FormatFlag(),
			&cli.StringSliceFlag{Name: "key", Required: true, Usage: "the public key `FILE` that must have signed (repeat: all must have)"},
		}, commands.RegistryFlags()...),
		Action: func(c *cli.Context) error {
			ref, o, err := signArgs(c, "ecc verify --key ecc.pub ghcr.io/org/probe:v1")
			if err != nil {
				return err
			}
			keys, err := sign.LoadPublicKeys(c.StringSlice("key"))
			if err != nil {
				return err
			}
			res, err := sign.VerifyReference(c.Context, ref, o, keys)
			if err != nil {
				return err
			}
			return commands.Print(c, res, func(w io.Writer) error {
				var by []string
				for _, s := range res.Signatures {
					by = append(by, s.Key)
				}
				_, err := fmt.Fprintf(w, "Verified %s\nDigest: %s\nSigned by: %s\n", res.Reference, res.Digest, strings.Join(by, ", "))
				return err
			})
		},
	}
}
