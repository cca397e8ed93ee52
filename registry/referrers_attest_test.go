package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/ecc-bpf/ecc/compiler"
	"github.com/ecc-bpf/ecc/internal/testenv"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/attest"
	"github.com/ecc-bpf/ecc/packager/attest/statement"
	"github.com/ecc-bpf/ecc/registry/registrytest"
)

// buildAttestable builds examples/execsnoop with clang into a folder and
// returns it.
func buildAttestable(t *testing.T) string {
	t.Helper()
	testenv.BPFBuild(t)
	out := t.TempDir()
	var stderr bytes.Buffer
	_, err := compiler.Build(context.Background(), &compiler.Options{
		Source: "../examples/execsnoop/execsnoop.bpf.c", ExportHeader: "../examples/execsnoop/execsnoop.h",
		OutDir: out, CacheDir: filepath.Join(t.TempDir(), "cache"), Stderr: &stderr, CFlags: []string{"-DECC_ATTEST_TEST"},
		Builder: attest.Tool{Version: "v0.0.1-test"},
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	return out
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return digest.FromBytes(data).Encoded()
}

// Push --attest to a registry with the referrers API and to an OCI layout
// folder: both list the provenance and the SBOM as referrers of the pushed
// index, whose statements name the pushed index, manifest and object, and
// the source and header with their sha256.
func TestPushAttested(t *testing.T) {
	dir := buildAttestable(t)
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	for _, target := range []string{reg.Host + "/probes/execsnoop:v1", "oci:" + filepath.Join(t.TempDir(), "layout") + ":v1"} {
		t.Run(strings.SplitN(target, ":", 2)[0], func(t *testing.T) {
			ctx := context.Background()
			pkgs, err := packager.OpenBuild(dir)
			if err != nil {
				t.Fatal(err)
			}
			mats, err := attest.OpenBuildMaterials(dir)
			if err != nil {
				t.Fatal(err)
			}
			ref, dst := openAttestTarget(t, target)
			// Materials of another build are refused before anything is pushed.
			stale := *mats["x86_64"]
			stale.Object = digest.FromString("another object").Encoded()
			if _, err := PushAttested(ctx, pkgs, map[string]*attest.Materials{"x86_64": &stale}, statement.All, dst, ref, nil); !errors.Is(err, attest.ErrMaterials) {
				t.Fatalf("stale materials: %v", err)
			}
			if _, err := dst.Resolve(ctx, ref.Tag); err == nil {
				t.Fatal("a refused push --attest pushed the package")
			}
			res, err := PushAttested(ctx, pkgs, mats, statement.All, dst, ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Attestations) != 2 {
				t.Fatalf("attached %+v", res.Attestations)
			}
			// A second push attaches the same two, not two more.
			again, err := PushAttested(ctx, pkgs, mats, statement.All, dst, ref, nil)
			if err != nil || again.Attestations[0].Digest != res.Attestations[0].Digest {
				t.Fatalf("again: %v %+v", err, again)
			}
			root, rootData, err := fetchRoot(ctx, dst, ref.TagOrDigest())
			if err != nil {
				t.Fatal(err)
			}
			if root.Digest.String() != res.Digest {
				t.Fatalf("root %s, pushed %s", root.Digest, res.Digest)
			}
			var idx ocispec.Index
			json.Unmarshal(rootData, &idx)
			manifest := idx.Manifests[0].Digest
			refs, err := ListReferrers(ctx, dst, root)
			if err != nil {
				t.Fatal(err)
			}
			byType := map[string]Referrer{}
			for _, r := range refs {
				if r.Kind != "attestation" || r.ArtifactType != attest.MediaType {
					t.Errorf("referrer %+v", r)
				}
				byType[r.PredicateType] = r
			}
			if len(refs) != 2 || byType[statement.ProvenancePredicateType].Digest != res.Attestations[0].Digest || byType[statement.SBOMPredicateType].Digest == "" {
				t.Fatalf("referrers %+v, attached %+v", refs, res.Attestations)
			}
			object := digest.FromBytes(pkgs[0].Package.Object)
			src := sha256File(t, "../examples/execsnoop/execsnoop.bpf.c")
			hdr := sha256File(t, "../examples/execsnoop/execsnoop.h")
			for _, ptype := range []string{statement.ProvenancePredicateType, statement.SBOMPredicateType} {
				r := byType[ptype]
				st, err := FetchStatement(ctx, dst, ocispec.Descriptor{Digest: digest.Digest(r.Digest), Size: sizeOf(t, ctx, dst, r.Digest)}, root.Digest)
				if err != nil {
					t.Fatal(err)
				}
				if st.PredicateType != ptype || !st.HasSubject(root.Digest) || !st.HasSubject(manifest) || !st.HasSubject(object) {
					t.Errorf("%s: subjects %+v; want %s, %s, %s", ptype, st.Subject, root.Digest, manifest, object)
				}
				pred := string(st.Predicate)
				for _, want := range []string{src, hdr, `"execsnoop.bpf.c"`, `"execsnoop.h"`, mats["x86_64"].BTF.SHA256} {
					if !strings.Contains(pred, want) {
						t.Errorf("%s: the predicate lacks %s", ptype, want)
					}
				}
				if ptype == statement.ProvenancePredicateType && (!strings.Contains(pred, `"-DECC_ATTEST_TEST"`) || !strings.Contains(pred, mats["x86_64"].Clang.Version) || !strings.Contains(pred, "v0.0.1-test")) {
					t.Errorf("provenance lacks the flags, clang or ecc version:\n%s", pred)
				}
			}
		})
	}
}

// openAttestTarget parses a reference and opens its target until the test ends.
func openAttestTarget(t *testing.T, s string) (Reference, Target) {
	t.Helper()
	ref, err := ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := OpenTarget(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	return ref, dst
}

// sizeOf resolves a manifest digest's size in dst.
func sizeOf(t *testing.T, ctx context.Context, dst Target, d string) int64 {
	t.Helper()
	desc, err := dst.Resolve(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return desc.Size
}

// What a registry says about a package's attestations is checked: a
// statement for another subject, a referrer of another artifact type or
// with two layers, a statement that is not in-toto, a layer over the
// cap. A cosign .sig tag is listed as a signature.
func TestFetchStatementHostile(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref, dst := openAttestTarget(t, reg.Host+"/probes/hostile:v1")
	pkgs := testPackages(t, 1)
	res, err := Push(ctx, pkgs, dst, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	root, err := dst.Resolve(ctx, "v1")
	if err != nil || root.Digest.String() != res.Digest {
		t.Fatal(err)
	}
	pushLayer := func(data []byte, mediaType string) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mediaType, data)
		if err := dst.Push(ctx, d, bytes.NewReader(data)); err != nil && !strings.Contains(err.Error(), "exist") {
			t.Fatal(err)
		}
		return d
	}
	other := digest.FromString("another package")
	stmt := func(subject digest.Digest) []byte {
		return []byte(`{"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://slsa.dev/provenance/v1", "predicate": {"x": 1}, "subject": [{"name": "p", "digest": {"sha256": "` + subject.Encoded() + `"}}]}`)
	}
	cases := []struct {
		name, artifactType, want string
		layers                   []ocispec.Descriptor
	}{
		{"good", attest.MediaType, "", []ocispec.Descriptor{pushLayer(stmt(root.Digest), attest.MediaType)}},
		{"other subject", attest.MediaType, "does not name", []ocispec.Descriptor{pushLayer(stmt(other), attest.MediaType)}},
		{"not in-toto", attest.MediaType, "invalid in-toto statement", []ocispec.Descriptor{pushLayer([]byte(`{"hello": "world"}`), attest.MediaType)}},
		{"two layers", attest.MediaType, "2 layers", []ocispec.Descriptor{pushLayer(stmt(root.Digest), attest.MediaType), pushLayer([]byte("x"), attest.MediaType)}},
		{"other type", "application/vnd.example+json", "not an in-toto statement", []ocispec.Descriptor{pushLayer(stmt(root.Digest), attest.MediaType)}},
		{"huge", attest.MediaType, "more than", []ocispec.Descriptor{{MediaType: attest.MediaType, Digest: digest.FromString("huge"), Size: attest.MaxStatementSize + 1}}},
	}
	for _, c := range cases {
		d, err := packReferrer(ctx, dst, root, c.artifactType, c.layers, map[string]string{ocispec.AnnotationCreated: "2026-01-01T00:00:00Z", "case": c.name})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err = FetchStatement(ctx, dst, d, root.Digest)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// A manifest that refers to another package is no statement of this one.
	if _, err := FetchStatement(ctx, dst, root, root.Digest); err == nil {
		t.Error("the package's own index read as a statement")
	}
	// cosign's tag fallback: a signature under sha256-HEX.sig.
	sigLayer := pushLayer([]byte("signature"), "application/vnd.dev.cosign.simplesigning.v1+json")
	sig, err := packReferrer(ctx, dst, ocispec.Descriptor{MediaType: root.MediaType, Digest: other, Size: 1}, "application/vnd.dev.cosign.artifact.sig.v1+json", []ocispec.Descriptor{sigLayer}, map[string]string{ocispec.AnnotationCreated: "2026-01-01T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Tag(ctx, sig, "sha256-"+root.Digest.Encoded()+".sig"); err != nil {
		t.Fatal(err)
	}
	refs, err := ListReferrers(ctx, dst, root)
	if err != nil {
		t.Fatal(err)
	}
	var attestations, signatures int
	for _, r := range refs {
		switch r.Kind {
		case "attestation":
			attestations++
		case "signature":
			signatures++
			if r.Tag != "sha256-"+root.Digest.Encoded()+".sig" || r.Digest != sig.Digest.String() {
				t.Errorf("signature %+v", r)
			}
		}
	}
	if attestations != 5 || signatures != 1 {
		t.Errorf("listed %d attestations and %d signatures: %+v", attestations, signatures, refs)
	}
}

// A two-architecture build pushes one index; its provenance names both
// manifests and both objects, and each architecture's vmlinux.h.
func TestPushAttestedMultiArch(t *testing.T) {
	testenv.BPFBuild(t)
	out := t.TempDir()
	arches, err := compiler.ParseArches([]string{"x86_64,arm64"})
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if _, err := compiler.Build(context.Background(), &compiler.Options{
		Source: "../examples/execsnoop/execsnoop.bpf.c", ExportHeader: "../examples/execsnoop/execsnoop.h",
		OutDir: out, CacheDir: filepath.Join(t.TempDir(), "cache"), Stderr: &stderr, Arches: arches,
	}); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	pkgs, err := packager.OpenBuild(out)
	if err != nil {
		t.Fatal(err)
	}
	mats, err := attest.OpenBuildMaterials(out)
	if err != nil || len(mats) != 2 {
		t.Fatalf("materials %v %v", mats, err)
	}
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	ref, dst := openAttestTarget(t, reg.Host+"/probes/multi:v1")
	ctx := context.Background()
	res, err := PushAttested(ctx, pkgs, mats, statement.All, dst, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	root, rootData, err := fetchRoot(ctx, dst, "v1")
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(rootData, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("index %v %s", err, rootData)
	}
	d, err := dst.Resolve(ctx, res.Attestations[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	st, err := FetchStatement(ctx, dst, d, root.Digest)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range idx.Manifests {
		if !st.HasSubject(m.Digest) {
			t.Errorf("the provenance does not name the %s manifest", m.Platform.Architecture)
		}
	}
	for _, pp := range pkgs {
		if !st.HasSubject(digest.FromBytes(pp.Package.Object)) {
			t.Errorf("the provenance does not name the %s object", pp.Package.Meta.Arch)
		}
	}
	for arch, m := range mats {
		for _, f := range m.Files {
			if f.Kind == attest.KindVmlinux && !strings.Contains(string(st.Predicate), f.SHA256) {
				t.Errorf("the provenance lacks %s's vmlinux.h %s", arch, f.SHA256)
			}
		}
	}
}

// packReferrer pushes a manifest that refers to subject with layers as
// they are (pushed or not, well-formed or not): the hostile referrers a
// registry may hold, which Attach would not make.
func packReferrer(ctx context.Context, dst oras.Target, subject ocispec.Descriptor, artifactType string, layers []ocispec.Descriptor, annotations map[string]string) (ocispec.Descriptor, error) {
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	return oras.PackManifest(ctx, dst, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		Subject: &subj, Layers: layers, ManifestAnnotations: annotations,
	})
}
