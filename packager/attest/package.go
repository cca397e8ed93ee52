package attest

import (
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/ecc-bpf/ecc/packager"
)

// Package is what the statements describe: a package as pushed (its
// index and a manifest per platform) or as built (objects only), with
// each platform's materials.
type Package struct {
	// Name is NAME; Version the doc comment's @version, if any.
	Name, Version string
	// Repository is where it was pushed ("ghcr.io/org/probe"), "" when not.
	Repository string
	// Index is the pushed artifact's root (zero when not pushed).
	Index Subject
	// Platforms has one entry per architecture.
	Platforms []Platform
}

// Platform is one architecture's share.
type Platform struct {
	// Manifest is the platform's manifest (zero when not pushed).
	Manifest Subject
	// Object is the BPF object.
	Object Subject
	// Materials are the inputs of its build.
	Materials *Materials
}

// NewPlatform describes an object built from mats; manifest is its
// manifest's digest once pushed ("" before).
func NewPlatform(name string, object []byte, mats *Materials, manifest digest.Digest) Platform {
	plat := "linux/" + packager.OCIArch(mats.Arch)
	p := Platform{
		Object:    Subject{Name: name + ".bpf.o", Digest: digest.FromBytes(object), MediaType: packager.MediaTypeObject, Platform: plat},
		Materials: mats,
	}
	if manifest != "" {
		p.Manifest = Subject{Name: name, Digest: manifest, MediaType: "application/vnd.oci.image.manifest.v1+json", Platform: plat}
	}
	return p
}

// Subjects lists what the statements are about: the index, each
// manifest and each object.
func (p *Package) Subjects() []Subject {
	var out []Subject
	if p.Index.Digest != "" {
		out = append(out, p.Index)
	}
	for _, pl := range p.Platforms {
		if pl.Manifest.Digest != "" {
			out = append(out, pl.Manifest)
		}
		out = append(out, pl.Object)
	}
	return out
}

// Check refuses a package the statements cannot describe: no name, no
// platform, a platform without materials or with bad ones.
func (p *Package) Check() error {
	if p.Name == "" || len(p.Platforms) == 0 {
		return fmt.Errorf("%w: no package name or platform", ErrStatement)
	}
	for _, pl := range p.Platforms {
		if pl.Materials == nil {
			return fmt.Errorf("%w: %s has no build materials", ErrStatement, pl.Object.Platform)
		}
		if err := pl.Materials.Check(); err != nil {
			return err
		}
	}
	return nil
}

// Document is a statement ready to store: its JSON, its predicate type
// and the file name it goes by (NAME.provenance.json).
type Document struct {
	Data          []byte
	PredicateType string
	Title         string
}
