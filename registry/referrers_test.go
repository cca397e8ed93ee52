package registry

import (
	"context"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/registry/registrytest"
)

func blobOf(mediaType, data string) packager.Blob {
	return packager.Blob{Data: []byte(data), Desc: ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromString(data), Size: int64(len(data))}}
}

// Attach puts an artifact with a subject; Referrers finds it, by type,
// on a registry (with the referrers API) and in a layout.
func TestAttachReferrers(t *testing.T) {
	ctx := context.Background()
	srv := registrytest.NewServer(t, registrytest.ServerOptions{})
	for name, r := range map[string]string{"registry": srv.Host + "/probes/att:v1", "layout": "oci:" + t.TempDir() + ":v1"} {
		t.Run(name, func(t *testing.T) {
			ref := mustRef(t, r)
			dst, err := OpenTarget(ctx, ref, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			if _, err := Push(ctx, testPackages(t, 3), dst, ref, nil); err != nil {
				t.Fatal(err)
			}
			root, err := ResolveRoot(ctx, dst, ref)
			if err != nil {
				t.Fatal(err)
			}
			if refs, err := Referrers(ctx, dst, root, ""); err != nil || len(refs) != 0 {
				t.Fatalf("referrers before any: %v %v", refs, err)
			}
			const statement = "application/vnd.in-toto+json"
			a := Attachment{ArtifactType: statement, Layers: []packager.Blob{blobOf(statement, `{"_type":"https://in-toto.io/Statement/v1"}`)},
				Annotations: map[string]string{"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}}
			att, err := Attach(ctx, dst, root, a)
			if err != nil {
				t.Fatal(err)
			}
			if a.Config != nil || a.Layers[0].Desc.Data != nil {
				t.Error("Attach changed the attachment given")
			}
			other, err := Attach(ctx, dst, root, Attachment{ArtifactType: "application/spdx+json", Layers: []packager.Blob{blobOf("application/spdx+json", `{"spdxVersion":"SPDX-2.3"}`)}})
			if err != nil {
				t.Fatal(err)
			}
			all, err := Referrers(ctx, dst, root, "")
			if err != nil || len(all) != 2 {
				t.Fatalf("referrers: %v %v", all, err)
			}
			m, _, err := FetchManifest(ctx, dst, att)
			if err != nil || m.Subject == nil || m.Subject.Digest != root.Digest || m.ArtifactType != statement || m.Config.MediaType != ocispec.MediaTypeEmptyJSON {
				t.Errorf("attached manifest %+v: %v", m, err)
			}
			if name == "layout" { // the in-process registry reports config types
				typed, err := Referrers(ctx, dst, root, statement)
				if err != nil || len(typed) != 1 || typed[0].Digest != att.Digest {
					t.Errorf("referrers of type %s: %v %v (the other is %s)", statement, typed, err, other.Digest)
				}
			}
		})
	}
	for _, a := range []Attachment{{Layers: []packager.Blob{blobOf("x", "y")}}, {ArtifactType: "x"}} {
		if _, err := Attach(ctx, nil, ocispec.Descriptor{}, a); err == nil || !strings.HasPrefix(err.Error(), "attach:") {
			t.Errorf("Attach(%+v): %v", a, err)
		}
	}
}
