package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// storeManifest holds what the store reads from any manifest or index.
type storeManifest struct {
	MediaType    string               `json:"mediaType"`
	ArtifactType string               `json:"artifactType"`
	Config       *ocispec.Descriptor  `json:"config"`
	Layers       []ocispec.Descriptor `json:"layers"`
	Manifests    []ocispec.Descriptor `json:"manifests"`
	Blobs        []ocispec.Descriptor `json:"blobs"`
	Subject      *ocispec.Descriptor  `json:"subject"`
	Annotations  map[string]string    `json:"annotations"`
}

func (m *storeManifest) configMediaType() string {
	if m.Config != nil {
		return m.Config.MediaType
	}
	return ""
}

// IsManifest reports whether content of media type mt is a manifest or an
// index (OCI or Docker, or an OCI artifact manifest): a node with successors,
// which the store walks and keeps referrers of. Which of them ecc reads as a
// package is packager.CheckManifestType's business.
func IsManifest(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex, storeDockerManifest, storeDockerManifestList, storeArtifactManifest:
		return true
	}
	return false
}

// successors mirrors oras-go's content.Successors.
func (m *storeManifest) successors(mt string) []ocispec.Descriptor {
	var out []ocispec.Descriptor
	if m.Subject != nil && mt != storeDockerManifest && mt != storeDockerManifestList {
		out = append(out, *m.Subject)
	}
	switch mt {
	case ocispec.MediaTypeImageManifest, storeDockerManifest:
		if m.Config != nil {
			out = append(out, *m.Config)
		}
		out = append(out, m.Layers...)
	case ocispec.MediaTypeImageIndex, storeDockerManifestList:
		out = append(out, m.Manifests...)
	case storeArtifactManifest:
		out = append(out, m.Blobs...)
	}
	return out
}

// walk visits every node reachable from roots that is not yet in seen,
// recording it there. Missing manifests are not descended into (a partial
// pull); a corrupted one is an error. parsed, when not nil, caches parsed
// manifests; visit, when not nil, is called for each node.
func (s *Store) walk(ctx context.Context, roots []ocispec.Descriptor, seen map[digest.Digest]ocispec.Descriptor,
	parsed map[digest.Digest]*storeManifest, visit func(ocispec.Descriptor) error) error {
	queue := slices.Clone(roots)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if _, ok := seen[n.Digest]; ok {
			continue
		}
		seen[n.Digest] = n
		if visit != nil {
			if err := visit(n); err != nil {
				return err
			}
		}
		if !IsManifest(n.MediaType) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := s.manifest(n, parsed)
		if err != nil {
			if errors.Is(err, ErrNotInStore) {
				continue
			}
			return err
		}
		queue = append(queue, m.successors(n.MediaType)...)
	}
	return nil
}

// manifest reads and parses a manifest or index.
func (s *Store) manifest(d ocispec.Descriptor, parsed map[digest.Digest]*storeManifest) (*storeManifest, error) {
	if m, ok := parsed[d.Digest]; ok {
		return m, nil
	}
	data, err := s.readBlob(d)
	if err != nil {
		return nil, err
	}
	var m storeManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest %s in the local store %s: %w", d.Digest, s.dir, err)
	}
	if parsed != nil {
		parsed[d.Digest] = &m
	}
	return &m, nil
}

// Predecessors returns the manifests and indexes in the store that point to
// node (including referrers through their subject).
func (s *Store) Predecessors(ctx context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	idx, unlock, err := s.lockIndex(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	parsed := map[digest.Digest]*storeManifest{}
	seen := map[digest.Digest]ocispec.Descriptor{}
	var preds []ocispec.Descriptor
	err = s.walk(ctx, idx.Manifests, seen, parsed, func(n ocispec.Descriptor) error {
		if !IsManifest(n.MediaType) {
			return nil
		}
		m, err := s.manifest(n, parsed)
		if err != nil {
			return nil // reported by walk
		}
		for _, c := range m.successors(n.MediaType) {
			if c.Digest == node.Digest {
				preds = append(preds, storeStripName(n))
				break
			}
		}
		return nil
	})
	return preds, err
}
