package registry

// Attestations as OCI referrers: attaching in-toto statements to a pushed
// package and listing what refers to it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/attest"
)

// Attached is an attestation attached to a pushed package.
type Attached struct {
	// Digest is the referrer manifest's; Statement the statement layer's.
	Digest        string `json:"digest"`
	Statement     string `json:"statement"`
	PredicateType string `json:"predicate_type"`
	Size          int64  `json:"size"`
}

// AttestResult is what PushAttested did.
type AttestResult struct {
	*PushResult
	Attestations []Attached `json:"attestations"`
}

// Statements makes the statements to attach to a package (ecc's:
// statement.All, SLSA provenance v1 and an SPDX 2.3 SBOM). It is passed
// in so that the registry package, which ecli links, links no statement
// writer.
type Statements func(*attest.Package) ([]attest.Document, error)

// PushAttested pushes the packages as Push does, then attaches to the
// pushed index, as OCI referrers, the in-toto statements that statements writes
// about it, from each platform's build materials (mats, by the package's
// arch). On a registry without the referrers API oras-go keeps the OCI
// referrers tag (sha256-HEX, an index of the referrers) up to date
// instead.
func PushAttested(ctx context.Context, pkgs []packager.PlatformPackage, mats map[string]*attest.Materials, statements Statements, dst oras.Target, ref Reference, po *PushOptions) (*AttestResult, error) {
	if po == nil {
		po = &PushOptions{}
	}
	if po.Eunomia {
		return nil, fmt.Errorf("push %s: --attest describes ecc's package shape, not eunomia's Wasm artifact", ref)
	}
	art, err := packager.NewArtifact(pkgs, packager.ArtifactOptions{Created: po.Created})
	if err != nil {
		return nil, err
	}
	desc, err := attestedPackage(art, pkgs, mats, ref)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, err)
	}
	// The statements are made before anything is pushed: one that cannot
	// be made leaves the target as it was.
	docs, err := statements(desc)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, err)
	}
	res, err := PushArtifact(ctx, art, dst, ref, po)
	if err != nil {
		return nil, err
	}
	out := &AttestResult{PushResult: res}
	created := po.Created
	if created == nil {
		t := desc.Platforms[0].Materials.FinishedOn
		created = &t
	}
	for _, d := range docs {
		a, err := attachStatement(ctx, dst, art.Root, d, *created)
		if err != nil {
			return nil, fmt.Errorf("push %s: attach %s: %w", ref, d.Title, MapError(err, ref))
		}
		out.Attestations = append(out.Attestations, *a)
	}
	return out, nil
}

// attestedPackage describes the laid-out artifact for the statements:
// its index, and per platform the manifest, the object and the materials.
func attestedPackage(art *packager.Artifact, pkgs []packager.PlatformPackage, mats map[string]*attest.Materials, ref Reference) (*attest.Package, error) {
	var idx ocispec.Index
	for _, b := range art.Blobs {
		if b.Desc.Digest == art.Root.Digest {
			if err := json.Unmarshal(b.Data, &idx); err != nil {
				return nil, err
			}
		}
	}
	// The subject's name: where the package lives, without tag or digest.
	name := ref
	name.Tag, name.Digest = "", ""
	repo := name.String()
	p := &attest.Package{Repository: repo,
		Index: attest.Subject{Name: repo, Digest: art.Root.Digest, MediaType: art.Root.MediaType}}
	for _, pp := range pkgs {
		arch := pp.Package.Meta.Arch
		m := mats[arch]
		if m == nil {
			return nil, fmt.Errorf("no build materials for %s (%s): rebuild with this ecc, which writes %s beside package.json", pp.Name, arch, attest.MaterialsFile)
		}
		if err := m.CheckObject(pp.Package.Object); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", pp.Name, arch, err)
		}
		var manifest digest.Digest
		for _, d := range idx.Manifests {
			if d.Platform != nil && d.Platform.Architecture == packager.OCIArch(arch) {
				manifest = d.Digest
			}
		}
		if p.Name == "" {
			p.Name = pp.Name
			if doc := pp.Package.Meta.BpfSkel.Doc; doc != nil {
				p.Version = doc.Version
			}
		}
		p.Platforms = append(p.Platforms, attest.NewPlatform(pp.Name, pp.Package.Object, m, manifest))
	}
	return p, nil
}

// attachStatement pushes a statement as the only layer of a manifest
// whose artifactType is attest.MediaType and whose subject is subject.
func attachStatement(ctx context.Context, dst oras.Target, subject ocispec.Descriptor, doc attest.Document, created time.Time) (*Attached, error) {
	data, predicateType, title := doc.Data, doc.PredicateType, doc.Title
	layer := ocispec.Descriptor{
		MediaType: attest.MediaType,
		Digest:    digest.FromBytes(data),
		Size:      int64(len(data)),
		Annotations: map[string]string{
			attest.AnnotationPredicateType: predicateType,
			ocispec.AnnotationTitle:        title,
		},
	}
	desc, err := Attach(ctx, dst, subject, Attachment{
		ArtifactType: attest.MediaType,
		Layers:       []packager.Blob{{Desc: layer, Data: data}},
		Annotations: map[string]string{
			attest.AnnotationPredicateType: predicateType,
			ocispec.AnnotationCreated:      created.UTC().Format(time.RFC3339),
		},
	})
	if err != nil {
		return nil, err
	}
	return &Attached{Digest: desc.Digest.String(), Statement: layer.Digest.String(), PredicateType: predicateType, Size: layer.Size}, nil
}

// Referrer is an artifact that refers to a package: an attestation or a
// signature, found through the referrers API (or the OCI referrers tag),
// or through cosign's sha256-HEX.sig / .att tags.
type Referrer struct {
	// Kind is "attestation", "signature" or "other".
	Kind         string `json:"kind"`
	Digest       string `json:"digest"`
	ArtifactType string `json:"artifact_type,omitempty"`
	// PredicateType is an attestation's, from its annotations.
	PredicateType string `json:"predicate_type,omitempty"`
	// Tag is the cosign tag it was found under, "" for a referrer.
	Tag string `json:"tag,omitempty"`
	// Signer names who signed, when known (filled by verification, not
	// by listing).
	Signer string `json:"signer,omitempty"`
}

// Artifact types of cosign's signatures as OCI 1.1 referrers, and of
// in-toto attestations, that listing classifies.
const (
	CosignSignatureType = "application/vnd.dev.cosign.artifact.sig.v1+json"
	sigstoreBundleType  = "application/vnd.dev.sigstore.bundle.v0.3+json"
	dsseEnvelopeType    = "application/vnd.dsse.envelope.v1+json"
)

// ListReferrers lists what refers to subject in src: OCI referrers (the
// API, else the referrers tag, as oras-go does) and cosign's tags.
func ListReferrers(ctx context.Context, src oras.ReadOnlyGraphTarget, subject ocispec.Descriptor) ([]Referrer, error) {
	descs, err := Referrers(ctx, src, subject, "")
	if err != nil && !errors.Is(err, errdef.ErrNotFound) && !errors.Is(err, errdef.ErrUnsupported) {
		return nil, err
	}
	var out []Referrer
	seen := map[digest.Digest]bool{}
	for _, d := range descs {
		seen[d.Digest] = true
		out = append(out, classifyReferrer(d.Digest, d.ArtifactType, d.Annotations))
	}
	for _, c := range cosignTags(subject.Digest) {
		d, err := src.Resolve(ctx, c.tag)
		if err != nil || seen[d.Digest] {
			continue // no such tag (the usual case), or listed as a referrer
		}
		out = append(out, Referrer{Kind: c.kind, Digest: d.Digest.String(), ArtifactType: d.ArtifactType, Tag: c.tag})
	}
	return out, nil
}

// classifyReferrer sorts a referrer by its artifact type.
func classifyReferrer(d digest.Digest, artifactType string, annotations map[string]string) Referrer {
	r := Referrer{Digest: d.String(), ArtifactType: artifactType, Kind: "other"}
	switch {
	case artifactType == attest.MediaType || artifactType == dsseEnvelopeType || strings.HasPrefix(artifactType, "application/vnd.in-toto"):
		r.Kind = "attestation"
		r.PredicateType = annotations[attest.AnnotationPredicateType]
	case artifactType == CosignSignatureType || artifactType == sigstoreBundleType:
		r.Kind = "signature"
	}
	return r
}

// cosignTags are the tags cosign stores a digest's signatures (.sig) and
// attestations (.att) under on registries without the referrers API.
func cosignTags(d digest.Digest) []struct{ tag, kind string } {
	base := d.Algorithm().String() + "-" + d.Encoded()
	return []struct{ tag, kind string }{{base + ".sig", "signature"}, {base + ".att", "attestation"}}
}

// FetchStatement reads the in-toto statement an attestation referrer
// holds, treating everything as hostile: the manifest is capped and must
// have our artifact type, subject and one statement layer, the layer is
// capped and digest-checked, and the statement must parse and name
// subject among its subjects.
func FetchStatement(ctx context.Context, src content.Fetcher, referrer ocispec.Descriptor, subject digest.Digest) (*attest.Statement, error) {
	referrer.MediaType = ocispec.MediaTypeImageManifest
	data, err := fetchCapped(ctx, src, referrer, packager.MaxManifestSize, "attestation manifest")
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("attestation %s: %w", referrer.Digest, err)
	}
	switch {
	case m.MediaType != ocispec.MediaTypeImageManifest || m.ArtifactType != attest.MediaType:
		return nil, fmt.Errorf("attestation %s: a %q manifest of artifact type %q, not an in-toto statement", referrer.Digest, m.MediaType, m.ArtifactType)
	case m.Subject == nil || m.Subject.Digest != subject:
		return nil, fmt.Errorf("attestation %s: its subject is not %s", referrer.Digest, subject)
	case len(m.Layers) != 1 || m.Layers[0].MediaType != attest.MediaType:
		return nil, fmt.Errorf("attestation %s: %d layers, want one %s", referrer.Digest, len(m.Layers), attest.MediaType)
	case m.Layers[0].Size < 0 || m.Layers[0].Size > attest.MaxStatementSize:
		return nil, fmt.Errorf("attestation %s: a statement of %d bytes, more than %d", referrer.Digest, m.Layers[0].Size, attest.MaxStatementSize)
	}
	body, err := content.FetchAll(ctx, src, m.Layers[0])
	if err != nil {
		return nil, fmt.Errorf("attestation %s: %w", referrer.Digest, err)
	}
	st, err := attest.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("attestation %s: %w", referrer.Digest, err)
	}
	if !st.HasSubject(subject) {
		return nil, fmt.Errorf("attestation %s: the statement does not name %s among its subjects", referrer.Digest, subject)
	}
	return st, nil
}

// PackageReferrers is what refers to the package a reference names, sorted into
// signatures and attestations (inspect's lists).
type PackageReferrers struct {
	// Subject is the digest the reference resolved to.
	Subject      string     `json:"subject"`
	Signatures   []Referrer `json:"signatures"`
	Attestations []Referrer `json:"attestations"`
}

// ReferrersOf resolves ref where it lives (a registry, oci:DIR,
// oci-archive:FILE) and lists the signatures and attestations that refer
// to it. An attestation of ours whose manifest does not carry its
// predicate type is read (FetchStatement) to learn it.
func ReferrersOf(ctx context.Context, ref Reference, o *Options) (*PackageReferrers, error) {
	src, err := OpenTarget(ctx, ref, o)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	root, err := src.Resolve(ctx, ref.TagOrDigest())
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", ref, err)
	}
	refs, err := ListReferrers(ctx, src, root)
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", ref, MapError(err, ref))
	}
	out := &PackageReferrers{Subject: root.Digest.String(), Signatures: []Referrer{}, Attestations: []Referrer{}}
	for _, r := range refs {
		switch r.Kind {
		case "signature":
			out.Signatures = append(out.Signatures, r)
		case "attestation":
			if r.PredicateType == "" && r.ArtifactType == attest.MediaType {
				d, err := src.Resolve(ctx, r.Digest)
				if err == nil {
					if st, err := FetchStatement(ctx, src, d, root.Digest); err == nil {
						r.PredicateType = st.PredicateType
					}
				}
			}
			out.Attestations = append(out.Attestations, r)
		}
	}
	return out, nil
}
