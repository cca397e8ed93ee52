package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is one name in the store, as `ecc images` shows it.
type Image struct {
	// Reference is the full name, e.g. ghcr.io/org/probe:v1.
	Reference string
	// Repository and Tag split Reference (ghcr.io/org/probe, v1); Tag is
	// empty for a name that holds only a digest (repo@sha256:…).
	Repository, Tag string
	// Digest of the index or manifest the name points to.
	Digest string
	// MediaType of that index or manifest.
	MediaType string
	// Platforms, e.g. linux/amd64 and linux/arm64 for an index; for a single
	// manifest its descriptor's platform or its image config's os/architecture.
	Platforms []string
	// Size is the total of the distinct manifests, configs and layers
	// reachable from the name.
	Size int64
	// Created is the org.opencontainers.image.created annotation, if any.
	Created time.Time
	// Title is the org.opencontainers.image.title annotation, if any.
	Title string
}

// List returns the named images, sorted by repository then tag.
func (s *Store) List(ctx context.Context) ([]Image, error) {
	idx, unlock, err := s.lockIndex(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	parsed := map[digest.Digest]*storeManifest{}
	var out []Image
	for _, e := range idx.Manifests {
		name := storeRefName(e)
		if name == "" {
			continue
		}
		img, err := s.describe(ctx, name, storeStripName(e), parsed)
		if err != nil {
			return nil, fmt.Errorf("list store %s: %s: %w", s.dir, name, err)
		}
		out = append(out, img)
	}
	slices.SortFunc(out, func(a, b Image) int {
		return cmp.Or(strings.Compare(a.Repository, b.Repository), strings.Compare(a.Tag, b.Tag), strings.Compare(a.Reference, b.Reference))
	})
	return out, nil
}

func (s *Store) describe(ctx context.Context, name string, root ocispec.Descriptor, parsed map[digest.Digest]*storeManifest) (Image, error) {
	img := Image{Reference: name, Digest: root.Digest.String(), MediaType: root.MediaType}
	img.Repository, img.Tag, _ = storeSplitName(name)
	seen := map[digest.Digest]ocispec.Descriptor{}
	// A corrupted manifest shows as a smaller image here rather than
	// failing the whole listing; Fetch reports it.
	if err := s.walk(ctx, []ocispec.Descriptor{root}, seen, parsed, nil); err != nil && ctx.Err() != nil {
		return img, err
	}
	for _, d := range seen {
		img.Size += d.Size
	}
	// Annotations: the index.json entry, then the root's content, then the
	// first child manifest that has them.
	annots := []map[string]string{root.Annotations}
	var m *storeManifest
	if IsManifest(root.MediaType) {
		if mm, err := s.manifest(root, parsed); err == nil {
			m = mm
			annots = append(annots, m.Annotations)
		}
	}
	var children []ocispec.Descriptor
	if m != nil && (root.MediaType == ocispec.MediaTypeImageIndex || root.MediaType == storeDockerManifestList) {
		children = m.Manifests
		for _, c := range children {
			if p := s.platform(c, parsed); p != "" && !slices.Contains(img.Platforms, p) {
				img.Platforms = append(img.Platforms, p)
			}
		}
		for _, c := range children {
			if cm, err := s.manifest(c, parsed); err == nil && IsManifest(c.MediaType) {
				annots = append(annots, cm.Annotations)
			}
		}
	} else if p := s.platform(root, parsed); p != "" {
		img.Platforms = []string{p}
	}
	for _, a := range annots {
		if img.Title == "" {
			img.Title = a[ocispec.AnnotationTitle]
		}
		if v := a[ocispec.AnnotationCreated]; img.Created.IsZero() && v != "" {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				img.Created = t
			}
		}
	}
	return img, nil
}

// platform is os/arch[/variant] of a manifest: its descriptor's platform,
// else the os and architecture of its config.
func (s *Store) platform(d ocispec.Descriptor, parsed map[digest.Digest]*storeManifest) string {
	p := d.Platform
	if p == nil && (d.MediaType == ocispec.MediaTypeImageManifest || d.MediaType == storeDockerManifest) {
		if m, err := s.manifest(d, parsed); err == nil && m.Config != nil && m.Config.Size <= storeManifestMax {
			if data, err := s.readBlob(*m.Config); err == nil {
				var cfg ocispec.Platform
				if json.Unmarshal(data, &cfg) == nil && cfg.OS != "" && cfg.Architecture != "" {
					p = &cfg
				}
			}
		}
	}
	if p == nil || p.OS == "" {
		return ""
	}
	out := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		out += "/" + p.Variant
	}
	return out
}
