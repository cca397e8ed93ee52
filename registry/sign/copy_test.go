package sign

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry"
	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// A package copied from a registry into an oci-archive (air-gapped use),
// and from there into another registry, keeps its signature (which
// verifies at each step), its attestation and cosign's .att tag; a copy
// past --max-bytes stops with a LimitError.
func TestCopyKeepsSignatures(t *testing.T) {
	ctx := context.Background()
	s, k := ecKey(t, "ec")
	_, other := edKey(t, "ed")
	srv := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref := mustRef(t, srv.Host+"/probes/src:v1")
	src, root := pushPackage(t, ref, 3)
	if _, err := Sign(ctx, src, ref, s); err != nil {
		t.Fatal(err)
	}
	stmt := []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)
	att, err := registry.Attach(ctx, src, root, registry.Attachment{
		ArtifactType: "application/vnd.in-toto+json",
		Layers:       []packager.Blob{{Desc: ocispec.Descriptor{MediaType: "application/vnd.in-toto+json", Digest: digest.FromBytes(stmt), Size: int64(len(stmt))}, Data: stmt}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// cosign's own attestations have no subject: only their tag finds them.
	layer := ocispec.Descriptor{MediaType: "application/vnd.dsse.envelope.v1+json", Digest: digest.FromBytes(stmt), Size: int64(len(stmt))}
	if err := src.Push(ctx, layer, bytes.NewReader(stmt)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		t.Fatal(err)
	}
	cosignAtt, err := oras.PackManifest(ctx, src, oras.PackManifestVersion1_1, "application/vnd.dsse.envelope.v1+json", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Tag(ctx, cosignAtt, "sha256-"+root.Digest.Encoded()+".att"); err != nil {
		t.Fatal(err)
	}

	archive := mustRef(t, "oci-archive:"+filepath.Join(t.TempDir(), "probe.tar")+":v1")
	res, err := registry.Copy(ctx, ref, archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != root.Digest.String() || len(res.CosignTags) != 2 || len(res.Referrers) < 3 {
		t.Errorf("copy into the archive: %+v", res)
	}
	// Copy closed the archive: open it again, as on the other side.
	a, err := registry.OpenTarget(ctx, archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got, err := registry.ResolveRoot(ctx, a, archive)
	if err != nil || got.Digest != root.Digest {
		t.Fatalf("the archive's v1 is %s (%v), want %s", got.Digest, err, root.Digest)
	}
	if _, err := Verify(ctx, a, archive, got, []*Key{k}); err != nil {
		t.Errorf("verify in the archive: %v", err)
	}
	if _, err := Verify(ctx, a, archive, got, []*Key{other}); !errors.Is(err, ErrNotVerified) {
		t.Errorf("verify with another key in the archive: %v", err)
	}
	refs, err := registry.ListReferrers(ctx, a, got)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, r := range refs {
		found[r.Digest] = true
	}
	if !found[att.Digest.String()] || !found[cosignAtt.Digest.String()] {
		t.Errorf("the archive's referrers %+v lack the attestation %s or cosign's %s", refs, att.Digest, cosignAtt.Digest)
	}

	// From the archive into another registry's repository.
	again := mustRef(t, srv.Host+"/mirror/probe:v1")
	if _, err := registry.Copy(ctx, archive, again, nil); err != nil {
		t.Fatal(err)
	}
	m, err := registry.OpenTarget(ctx, again, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := VerifyReference(ctx, again, nil, []*Key{k}); err != nil {
		t.Errorf("verify in the mirror: %v", err)
	}

	// Bounded: a copy larger than MaxBytes stops.
	small := &registry.Options{Limits: registry.Limits{MaxBytes: 600}}
	_, err = registry.Copy(ctx, ref, mustRef(t, "oci:"+t.TempDir()+":v1"), small)
	var le *registry.LimitError
	if !errors.As(err, &le) || le.Limit != "MaxBytes" {
		t.Errorf("copy past MaxBytes: %v", err)
	}
}
