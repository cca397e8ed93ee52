package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/ecc-bpf/ecc/packager"
)

// Pulls and reads from the store (Load: ecli run, ecc inspect) accept the
// same media types (packager.CheckManifestType): a Docker manifest list over
// a package's manifests is refused by both, where Load used to read it.
func TestPullAndLoadAgreeOnTypes(t *testing.T) {
	ctx := context.Background()
	const dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
	// asList pushes the root that from names in dst again, as a Docker
	// manifest list, and names it name.
	asList := func(dst oras.Target, from, name string) {
		t.Helper()
		root, err := dst.Resolve(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		data, err := content.FetchAll(ctx, dst, root)
		if err != nil {
			t.Fatal(err)
		}
		var idx map[string]any
		if err := json.Unmarshal(data, &idx); err != nil {
			t.Fatal(err)
		}
		idx["mediaType"] = dockerList
		data, _ = json.Marshal(idx)
		d := ocispec.Descriptor{MediaType: dockerList, Digest: digest.FromBytes(data), Size: int64(len(data))}
		if err := dst.Push(ctx, d, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := dst.Tag(ctx, d, name); err != nil {
			t.Fatal(err)
		}
	}

	// Pull from a layout.
	layout := t.TempDir()
	ref := mustRef(t, "oci:"+layout+":v1")
	dst, err := OpenTarget(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := Push(ctx, testPackages(t, 9), dst, ref, nil); err != nil {
		t.Fatal(err)
	}
	asList(dst, "v1", "list")
	list := mustRef(t, "oci:"+layout+":list")
	if _, err := Pull(ctx, dst, list, openStore(t), &PullOptions{Platform: "linux/amd64"}); !errors.Is(err, packager.ErrUnknownMediaType) {
		t.Errorf("pull of a Docker manifest list: %v", err)
	}

	// Load from the store, which holds the whole artifact.
	st := openStore(t)
	sref := mustRef(t, "127.0.0.1:5000/probes/types:v1")
	if _, err := Push(ctx, testPackages(t, 9), st, sref, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, st, sref, "linux/amd64"); err != nil {
		t.Fatalf("load of the index: %v", err)
	}
	slist := mustRef(t, "127.0.0.1:5000/probes/types:list")
	asList(st, sref.String(), slist.String())
	if _, err := Load(ctx, st, slist, "linux/amd64"); !errors.Is(err, packager.ErrUnknownMediaType) {
		t.Errorf("load of a Docker manifest list: %v", err)
	}
}
