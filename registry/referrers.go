package registry

// Referrers: artifacts that point at a package's manifest or index through
// their manifest's subject (OCI image-spec 1.1): signatures, provenance,
// SBOMs. Registries without the referrers API get oras-go's fallback, the
// referrers tag schema (an index tagged sha256-HEX listing them).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/ecc-bpf/ecc/packager"
)

// MaxReferrers bounds how many referrers of one subject are read.
const MaxReferrers = 256

// Attachment is an artifact to attach to a subject with Attach.
type Attachment struct {
	// ArtifactType is the manifest's artifactType (required), e.g.
	// "application/vnd.in-toto+json".
	ArtifactType string
	// Config is the manifest's config; nil means the OCI empty
	// descriptor ({}, application/vnd.oci.empty.v1+json).
	Config *packager.Blob
	// Layers are the artifact's blobs, at least one.
	Layers []packager.Blob
	// Annotations are the manifest's annotations.
	Annotations map[string]string
	// Tag, when set, also tags the manifest (cosign's sha256-HEX.sig).
	Tag string
}

// Attach pushes a as an image manifest whose subject is subject, and
// returns the manifest's descriptor. Blobs dst has are not sent again.
// On a registry without the referrers API, oras-go records the manifest in
// the referrers tag schema's index, so Referrers finds it either way.
func Attach(ctx context.Context, dst oras.Target, subject ocispec.Descriptor, a Attachment) (ocispec.Descriptor, error) {
	if a.ArtifactType == "" {
		return ocispec.Descriptor{}, errors.New("attach: the attachment has no artifact type")
	}
	if len(a.Layers) == 0 {
		return ocispec.Descriptor{}, errors.New("attach: the attachment has no layers")
	}
	cfg := packager.Blob{Desc: ocispec.DescriptorEmptyJSON, Data: ocispec.DescriptorEmptyJSON.Data}
	if a.Config != nil {
		cfg = *a.Config
	}
	cfgDesc := cfg.Desc
	cfgDesc.Data = nil
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: a.ArtifactType,
		Config:       cfgDesc,
		Subject:      &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations:  a.Annotations,
	}
	blobs := []packager.Blob{cfg}
	for _, l := range a.Layers {
		d := l.Desc
		d.Data = nil
		m.Layers = append(m.Layers, d)
		blobs = append(blobs, l)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, data)
	desc.ArtifactType = a.ArtifactType
	for _, b := range blobs {
		if err := pushBlob(ctx, dst, b); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("attach %s to %s: %w", a.ArtifactType, subject.Digest, err)
		}
	}
	if a.Tag != "" {
		if rp, ok := dst.(orasregistry.ReferencePusher); ok {
			err = rp.PushReference(ctx, desc, bytes.NewReader(data), a.Tag)
		} else if err = pushBlob(ctx, dst, packager.Blob{Desc: desc, Data: data}); err == nil {
			err = dst.Tag(ctx, desc, a.Tag)
		}
	} else {
		err = pushBlob(ctx, dst, packager.Blob{Desc: desc, Data: data})
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("attach %s to %s: %w", a.ArtifactType, subject.Digest, err)
	}
	return desc, nil
}

// pushBlob sends b unless dst has it.
func pushBlob(ctx context.Context, dst oras.Target, b packager.Blob) error {
	have, err := dst.Exists(ctx, b.Desc)
	if err != nil || have {
		return err
	}
	if err := dst.Push(ctx, b.Desc, bytes.NewReader(b.Data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return err
	}
	return nil
}

// Referrers lists the manifests whose subject is subject, of artifactType
// ("" for all): through the registry's referrers API, else the referrers
// tag schema; in a layout, the manifests it holds that name subject. At
// most MaxReferrers are returned; more is an error, as a registry that
// lists thousands is not answering honestly.
func Referrers(ctx context.Context, src oras.ReadOnlyGraphTarget, subject ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, error) {
	subject = ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	var descs []ocispec.Descriptor
	var err error
	if rl, ok := src.(orasregistry.ReferrerLister); ok {
		err = rl.Referrers(ctx, subject, artifactType, func(page []ocispec.Descriptor) error {
			descs = append(descs, page...)
			if len(descs) > MaxReferrers {
				return errTooManyReferrers
			}
			return nil
		})
		if t, ok := src.(*remoteTarget); ok {
			err = t.mapErr(err)
		}
	} else {
		descs, err = orasregistry.Referrers(ctx, src, subject, artifactType)
	}
	if err == nil && len(descs) > MaxReferrers {
		err = errTooManyReferrers
	}
	if err != nil {
		return nil, fmt.Errorf("list referrers of %s: %w", subject.Digest, err)
	}
	// The answer is the registry's word: keep only well-formed manifests.
	out := descs[:0]
	for _, d := range descs {
		if d.MediaType != ocispec.MediaTypeImageManifest || d.Digest.Validate() != nil || d.Size <= 0 || d.Size > packager.MaxManifestSize {
			continue
		}
		// Some registries (go-containerregistry's among them) report a
		// referrer's config media type where its manifest has an
		// artifactType: the manifest says, for every caller.
		if d.ArtifactType == "" || d.ArtifactType == ocispec.MediaTypeEmptyJSON || d.ArtifactType == ocispec.MediaTypeImageConfig {
			if m, _, err := FetchManifest(ctx, src, d); err == nil && m.ArtifactType != "" {
				d.ArtifactType = m.ArtifactType
				if d.Annotations == nil {
					d.Annotations = m.Annotations
				}
			}
		}
		out = append(out, d)
	}
	return out, nil
}

var errTooManyReferrers = fmt.Errorf("more than %d referrers", MaxReferrers)

// FetchManifest fetches the image manifest d (at most
// packager.MaxManifestSize bytes, digest verified) and parses it.
func FetchManifest(ctx context.Context, src content.Fetcher, d ocispec.Descriptor) (*ocispec.Manifest, []byte, error) {
	data, err := fetchCapped(ctx, src, d, packager.MaxManifestSize, "manifest")
	if err != nil {
		return nil, nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest {
		return nil, nil, fmt.Errorf("manifest %s has media type %q, not an image manifest", d.Digest, m.MediaType)
	}
	return &m, data, nil
}

// FetchBlob fetches the blob d, refusing one declared larger than max;
// its size and digest are verified.
func FetchBlob(ctx context.Context, src content.Fetcher, d ocispec.Descriptor, max int64) ([]byte, error) {
	if d.Size < 0 || d.Size > max {
		return nil, fmt.Errorf("blob %s is %d bytes, more than the %d bytes allowed", d.Digest, d.Size, max)
	}
	if err := d.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("blob %q: %w", d.Digest, err)
	}
	return content.FetchAll(ctx, src, d)
}

// ResolveRoot resolves ref in src to the descriptor of its root manifest
// or index: by digest when ref has one (checked to exist), else by tag.
// Verifying and pulling that descriptor's digest, rather than the tag
// again, leaves no gap for the tag to move.
func ResolveRoot(ctx context.Context, src oras.ReadOnlyTarget, ref Reference) (ocispec.Descriptor, error) {
	d, err := src.Resolve(ctx, ref.TagOrDigest())
	if err != nil {
		return d, err
	}
	if ref.Digest != "" && d.Digest != digest.Digest(ref.Digest) {
		return d, fmt.Errorf("%s resolved to %s, not the digest asked for", ref, d.Digest)
	}
	return d, nil
}
