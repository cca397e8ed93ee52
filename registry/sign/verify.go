package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"

	"github.com/ecc-bpf/ecc/registry"
)

// ErrUnsigned says a digest has no signature at all (no cosign signature
// manifest, by tag or as a referrer).
var ErrUnsigned = errors.New("no signature")

// ErrNotVerified says a digest has signatures but none that the keys
// given verify.
var ErrNotVerified = errors.New("no signature verifies")

// VerifyError is a failed verification: of what, and why.
type VerifyError struct {
	// Reference is the reference as given; Digest the digest verified.
	Reference string
	Digest    string
	// Reason says what was missing or wrong, in words.
	Reason string
	// Err is ErrUnsigned or ErrNotVerified, or what failed while reading.
	Err error
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("verify %s (%s): %s", e.Reference, e.Digest, e.Reason)
}

func (e *VerifyError) Unwrap() error { return e.Err }

// Signature is a signature that verified.
type Signature struct {
	// KeyID and Key name the public key that verified it.
	KeyID string `json:"key_id"`
	Key   string `json:"key"`
	// Manifest is the digest of the manifest holding it; AlsoIn those of
	// other manifests holding the same signature (the .sig manifests that
	// a later signature replaced, still referrers).
	Manifest string   `json:"manifest"`
	AlsoIn   []string `json:"also_in,omitempty"`
	// DockerReference is the identity the payload names.
	DockerReference string `json:"docker_reference"`
}

// Verified is what Verify found.
type Verified struct {
	Reference  string      `json:"reference"`
	Digest     string      `json:"digest"`
	Signatures []Signature `json:"signatures"`
}

// Verify checks that every key in keys has signed root (a descriptor the
// caller resolved once: verify it, then pull exactly it) in src. ref
// names it in messages. A signature counts when it verifies over its
// payload with the key and the payload names root's digest; payloads that
// verify but name another digest are a replayed signature and do not
// count. Everything read is bounded and its digest checked.
func Verify(ctx context.Context, src oras.ReadOnlyGraphTarget, ref registry.Reference, root ocispec.Descriptor, keys []*Key) (*Verified, error) {
	fail := func(err error, format string, args ...any) error {
		return &VerifyError{Reference: ref.String(), Digest: root.Digest.String(), Reason: fmt.Sprintf(format, args...), Err: err}
	}
	if len(keys) == 0 {
		return nil, fail(errors.New("no keys"), "no public key to verify with")
	}
	sigs, err := candidates(ctx, src, root)
	if err != nil {
		return nil, fail(err, "read its signatures: %v", err)
	}
	if len(sigs) == 0 {
		return nil, fail(ErrUnsigned, "no signature (neither %s nor a referrer of type %s)", SigTag(root.Digest), ArtifactType)
	}
	res := &Verified{Reference: ref.String(), Digest: root.Digest.String()}
	var problems []string
	signedBy := map[string]bool{}
	for _, s := range sigs {
		if s.malformed != "" {
			problems = append(problems, s.malformed)
			continue
		}
		for _, k := range keys {
			if err := k.v.VerifySignature(bytes.NewReader(s.sig), bytes.NewReader(s.payload)); err != nil {
				continue
			}
			var p Payload
			if err := json.Unmarshal(s.payload, &p); err != nil {
				problems = append(problems, fmt.Sprintf("a payload signed by %s is not JSON", k.Name))
				continue
			}
			if p.Critical.Type != PayloadType {
				problems = append(problems, fmt.Sprintf("a payload signed by %s has type %q", k.Name, p.Critical.Type))
				continue
			}
			if p.Critical.Image.DockerManifestDigest != root.Digest.String() {
				problems = append(problems, fmt.Sprintf("a signature by %s is of %s, another digest", k.Name, p.Critical.Image.DockerManifestDigest))
				continue
			}
			signedBy[k.ID] = true
			sig := Signature{KeyID: k.ID, Key: k.Name, Manifest: s.manifest.String(), DockerReference: p.Critical.Identity.DockerReference}
			for _, d := range s.alsoIn {
				sig.AlsoIn = append(sig.AlsoIn, d.String())
			}
			res.Signatures = append(res.Signatures, sig)
		}
	}
	var missing []string
	for _, k := range keys {
		if !signedBy[k.ID] {
			missing = append(missing, k.Name)
		}
	}
	if len(missing) > 0 {
		reason := fmt.Sprintf("no valid signature by %s among %d signature(s)", strings.Join(missing, ", "), len(sigs))
		if len(problems) > 0 {
			reason += " (" + strings.Join(problems, "; ") + ")"
		}
		return nil, fail(ErrNotVerified, "%s", reason)
	}
	return res, nil
}

// candidate is one signature read: its payload and raw signature.
type candidate struct {
	manifest digest.Digest
	// alsoIn are other manifests that hold the same signature.
	alsoIn  []digest.Digest
	payload []byte
	sig     []byte
	// malformed says why the signature could not be read.
	malformed string
}

// candidates reads the cosign signatures of root: the manifest tagged
// sha256-HEX.sig and the referrers of ArtifactType, each manifest once.
// Layers that are not cosign signatures are skipped; those whose
// signature is not base64 are returned as malformed.
func candidates(ctx context.Context, src oras.ReadOnlyGraphTarget, root ocispec.Descriptor) ([]candidate, error) {
	var manifests []ocispec.Descriptor
	if d, err := src.Resolve(ctx, SigTag(root.Digest)); err == nil {
		manifests = append(manifests, d)
	} else if !errors.Is(err, errdef.ErrNotFound) {
		return nil, err
	}
	// All referrers, filtered here (registry.Referrers has put right the
	// registries that report a config's media type as artifactType).
	refs, err := registry.Referrers(ctx, src, root, "")
	if err != nil && !errors.Is(err, errdef.ErrNotFound) {
		return nil, err
	}
	for _, d := range refs {
		if d.ArtifactType == ArtifactType {
			manifests = append(manifests, d)
		}
	}
	seen := map[digest.Digest]bool{}
	seenSig := map[string]int{} // signature -> its index in out
	var out []candidate
	for _, d := range manifests {
		if seen[d.Digest] {
			continue
		}
		seen[d.Digest] = true
		// The .sig manifest comes first and holds every signature
		// ecc or cosign added; the referrers after it are mostly the
		// .sig manifests it replaced. Read a bounded number, and say so
		// when some are left.
		if len(seen) > MaxSignatureManifests {
			out = append(out, candidate{malformed: fmt.Sprintf("%d signature manifests past the first %d were not read", len(manifests)-MaxSignatureManifests, MaxSignatureManifests)})
			break
		}
		m, _, err := registry.FetchManifest(ctx, src, d)
		if err != nil {
			return nil, err
		}
		for _, l := range m.Layers {
			if l.MediaType != PayloadMediaType {
				continue
			}
			// The same signature in two manifests (a .sig manifest
			// and the one it replaced, still a referrer) counts once.
			key := l.Digest.String() + " " + l.Annotations[SignatureAnnotation]
			if i, ok := seenSig[key]; ok {
				if out[i].manifest != d.Digest && !slices.Contains(out[i].alsoIn, d.Digest) {
					out[i].alsoIn = append(out[i].alsoIn, d.Digest)
				}
				continue
			}
			seenSig[key] = len(out)
			if len(out) >= MaxSignatures {
				return nil, fmt.Errorf("more than %d signatures", MaxSignatures)
			}
			sig, err := base64.StdEncoding.DecodeString(l.Annotations[SignatureAnnotation])
			if err != nil || len(sig) == 0 {
				out = append(out, candidate{manifest: d.Digest, malformed: "a signature annotation of " + l.Digest.String() + " is not base64"})
				continue
			}
			// A payload that cannot be read (missing, too large, not
			// matching its digest) counts as no signature, and is said.
			payload, err := registry.FetchBlob(ctx, src, l, MaxPayloadSize)
			if err != nil {
				out = append(out, candidate{manifest: d.Digest, malformed: fmt.Sprintf("payload %s: %v", l.Digest, err)})
				continue
			}
			out = append(out, candidate{manifest: d.Digest, payload: payload, sig: sig})
		}
	}
	return out, nil
}

// VerifyReference opens ref's target with opts, resolves ref once and
// verifies that digest with Verify.
func VerifyReference(ctx context.Context, ref registry.Reference, opts *registry.Options, keys []*Key) (*Verified, error) {
	t, err := registry.OpenTarget(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	root, err := registry.ResolveRoot(ctx, t, ref)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", ref, err)
	}
	return Verify(ctx, t, ref, root, keys)
}

// NameSigners sets the Signer of each signature and attestation in refs
// (as registry.ReferrersOf listed them for ref): the names of the keys
// that verify a signature manifest's signatures, or that signed an
// attestation's manifest, comma-separated, else "unverified". The target
// is opened once; a tag that moved since the listing names nothing.
func NameSigners(ctx context.Context, ref registry.Reference, opts *registry.Options, refs *registry.PackageReferrers, keys []*Key) error {
	t, err := registry.OpenTarget(ctx, ref, opts)
	if err != nil {
		return err
	}
	defer t.Close()
	root, err := registry.ResolveRoot(ctx, t, ref)
	if err != nil {
		return err
	}
	signers := map[string][]string{} // manifest digest -> key names
	add := func(m, key string) {
		if !slices.Contains(signers[m], key) {
			signers[m] = append(signers[m], key)
		}
	}
	if root.Digest.String() == refs.Subject {
		for _, k := range keys {
			v, err := Verify(ctx, t, ref, root, []*Key{k})
			if err != nil {
				continue // not signed by k
			}
			for _, s := range v.Signatures {
				for _, m := range append([]string{s.Manifest}, s.AlsoIn...) {
					add(m, s.Key)
				}
			}
		}
	}
	for _, a := range refs.Attestations {
		at := ref
		at.Tag, at.Digest = "", a.Digest
		d, err := t.Resolve(ctx, a.Digest)
		if err != nil {
			continue
		}
		for _, k := range keys {
			if _, err := Verify(ctx, t, at, d, []*Key{k}); err == nil {
				add(a.Digest, k.Name)
			}
		}
	}
	name := func(d string) string {
		if names := signers[d]; len(names) > 0 {
			return strings.Join(names, ",")
		}
		return "unverified"
	}
	for i, r := range refs.Signatures {
		refs.Signatures[i].Signer = name(r.Digest)
	}
	for i, r := range refs.Attestations {
		refs.Attestations[i].Signer = name(r.Digest)
	}
	return nil
}
