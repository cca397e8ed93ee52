package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
)

// Media types and names of cosign's signature format.
const (
	// PayloadMediaType is the layer holding the signed payload.
	PayloadMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SignatureAnnotation holds the base64 signature of the layer's bytes.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// ArtifactType is the artifactType cosign gives signatures stored as
	// OCI 1.1 referrers.
	ArtifactType = registry.CosignSignatureType
	// PayloadType is critical.type of the payload.
	PayloadType = "cosign container image signature"
	// configMediaType is the config of cosign's .sig manifests.
	configMediaType = ocispec.MediaTypeImageConfig
)

// Bounds on what is read when verifying: the signature manifests of one
// digest, the signature layers in all, and one payload.
const (
	MaxSignatureManifests = 32
	MaxSignatures         = 64
	MaxPayloadSize        = 64 << 10
)

// Payload is cosign's simple-signing payload.
type Payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// NewPayload returns the payload that signs d as reference (the
// repository, host/repo, as cosign writes it).
func NewPayload(reference string, d digest.Digest) ([]byte, error) {
	var p Payload
	p.Critical.Identity.DockerReference = reference
	p.Critical.Image.DockerManifestDigest = d.String()
	p.Critical.Type = PayloadType
	return json.Marshal(p)
}

// SigTag is cosign's tag for the signatures of d: sha256-HEX.sig.
func SigTag(d digest.Digest) string {
	return d.Algorithm().String() + "-" + d.Encoded() + ".sig"
}

// dockerReference is the identity a signature names: host/repo for a
// registry reference, the reference without tag or digest otherwise.
func dockerReference(ref registry.Reference) string {
	if ref.Kind == registry.Remote {
		return ref.Registry + "/" + ref.Repository
	}
	r := ref
	r.Tag, r.Digest = "", ""
	return strings.TrimSuffix(r.String(), ":")
}

// Signed is what Sign did.
type Signed struct {
	Reference string `json:"reference"`
	// Digest is the manifest or index digest signed.
	Digest string `json:"digest"`
	// Signature is the digest of the manifest holding the signatures.
	Signature string `json:"signature"`
	// Tag is cosign's tag for it (sha256-HEX.sig).
	Tag   string `json:"tag"`
	KeyID string `json:"key_id"`
}

// Sign signs the manifest or index ref resolves to in dst and stores the
// signature as cosign does: a layer of the manifest tagged sha256-HEX.sig
// (kept with the signatures it already holds), which also names the
// signed digest as its subject so that it is a referrer too.
func Sign(ctx context.Context, dst oras.Target, ref registry.Reference, s *Signer) (*Signed, error) {
	root, err := registry.ResolveRoot(ctx, dst, ref)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", ref, err)
	}
	payload, err := NewPayload(dockerReference(ref), root.Digest)
	if err != nil {
		return nil, err
	}
	tag := SigTag(root.Digest)
	layers, err := existingSignatures(ctx, dst, tag)
	if err != nil {
		return nil, fmt.Errorf("sign %s: read the signatures already at %s: %w", ref, tag, err)
	}
	// Signing again with the same key changes nothing (a CI job run
	// twice): the signature there is kept.
	for _, l := range layers {
		if bytes.Equal(l.Data, payload) && s.signed(l) {
			d, err := dst.Resolve(ctx, tag)
			if err != nil {
				return nil, fmt.Errorf("sign %s: %w", ref, err)
			}
			return &Signed{Reference: ref.String(), Digest: root.Digest.String(), Signature: d.Digest.String(), Tag: tag, KeyID: s.KeyID}, nil
		}
	}
	sig, err := s.sv.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", ref, err)
	}
	layer := packager.Blob{Data: payload, Desc: ocispec.Descriptor{
		MediaType:   PayloadMediaType,
		Digest:      digest.FromBytes(payload),
		Size:        int64(len(payload)),
		Annotations: map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	}}
	layers = append(layers, layer)
	cfg, err := sigConfig(layers)
	if err != nil {
		return nil, err
	}
	desc, err := registry.Attach(ctx, dst, root, registry.Attachment{
		ArtifactType: ArtifactType,
		Config:       cfg,
		Layers:       layers,
		Tag:          tag,
	})
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", ref, err)
	}
	return &Signed{Reference: ref.String(), Digest: root.Digest.String(), Signature: desc.Digest.String(), Tag: tag, KeyID: s.KeyID}, nil
}

// existingSignatures returns the signature layers of the manifest at tag
// (nil when there is none) with their payloads, leaving out those that
// cannot be read.
func existingSignatures(ctx context.Context, t oras.Target, tag string) ([]packager.Blob, error) {
	d, err := t.Resolve(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, _, err := registry.FetchManifest(ctx, t, d)
	if err != nil {
		return nil, err
	}
	if len(m.Layers) >= MaxSignatures {
		return nil, fmt.Errorf("%s already holds %d signatures, the most ecc keeps", tag, len(m.Layers))
	}
	var out []packager.Blob
	for _, l := range m.Layers {
		if l.MediaType != PayloadMediaType {
			continue
		}
		// A layer that cannot be read could never verify: drop it
		// rather than let it block signing.
		data, err := registry.FetchBlob(ctx, t, l, MaxPayloadSize)
		if err != nil {
			continue
		}
		out = append(out, packager.Blob{Desc: l, Data: data})
	}
	return out, nil
}

// sigConfig is the image config cosign writes for a .sig manifest: its
// rootfs lists the layers' digests.
func sigConfig(layers []packager.Blob) (*packager.Blob, error) {
	ids := make([]digest.Digest, len(layers))
	for i, l := range layers {
		ids[i] = l.Desc.Digest
	}
	cfg := ocispec.Image{RootFS: ocispec.RootFS{Type: "layers", DiffIDs: ids}}
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return &packager.Blob{Data: data, Desc: ocispec.Descriptor{MediaType: configMediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}}, nil
}

// SignReference opens ref's target with opts, signs what ref resolves to,
// and closes the target (which writes an oci-archive: back).
func SignReference(ctx context.Context, ref registry.Reference, opts *registry.Options, s *Signer) (*Signed, error) {
	t, err := registry.OpenTarget(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	res, err := Sign(ctx, t, ref, s)
	if cerr := t.Close(); err == nil && cerr != nil {
		return nil, cerr
	}
	return res, err
}

// signed says whether layer's signature verifies with s's key.
func (s *Signer) signed(layer packager.Blob) bool {
	sig, err := base64.StdEncoding.DecodeString(layer.Desc.Annotations[SignatureAnnotation])
	return err == nil && s.sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(layer.Data)) == nil
}

// SignAttestations signs, with s, each attestation that refers to ref's
// digest where ref lives (ecc push --attest's statements, cosign's .att):
// the digests of their manifests, so that a verifier can tell the
// statements a key vouches for from those anyone with push access
// attached. The target is opened once (an oci-archive: is written once).
// It returns what it signed, in listing order.
func SignAttestations(ctx context.Context, ref registry.Reference, opts *registry.Options, s *Signer) (out []*Signed, err error) {
	t, err := registry.OpenTarget(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := t.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	root, err := registry.ResolveRoot(ctx, t, ref)
	if err != nil {
		return nil, fmt.Errorf("sign the attestations of %s: %w", ref, err)
	}
	refs, err := registry.ListReferrers(ctx, t, root)
	if err != nil {
		return nil, fmt.Errorf("sign the attestations of %s: %w", ref, err)
	}
	for _, a := range refs {
		if a.Kind != "attestation" {
			continue
		}
		at := ref
		at.Tag, at.Digest = "", a.Digest
		res, err := Sign(ctx, t, at, s)
		if err != nil {
			return out, fmt.Errorf("sign the attestation %s of %s: %w", a.Digest, ref, err)
		}
		out = append(out, res)
	}
	return out, nil
}
