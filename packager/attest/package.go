package attest

import (
	"fmt"
	"os"
	"path/filepath"

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

func (p *Package) check() error {
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

// Files `ecc build --attest` writes beside package.json.
const (
	ProvenanceSuffix = ".provenance.json"
	SBOMSuffix       = ".sbom.spdx.json"
)

// WriteBuild writes the provenance and the SBOM of a built, not yet
// pushed, object (its subject is the object alone) into dir as
// NAME.provenance.json and NAME.sbom.spdx.json, and returns their paths.
func WriteBuild(dir, objectPath string, mats *Materials) ([]string, error) {
	obj, err := os.ReadFile(objectPath)
	if err != nil {
		return nil, err
	}
	if err := mats.CheckObject(obj); err != nil {
		return nil, err
	}
	p := &Package{Name: mats.Name, Platforms: []Platform{NewPlatform(mats.Name, obj, mats, "")}}
	var written []string
	for _, s := range []struct {
		make   func(*Package) ([]byte, error)
		suffix string
	}{{Provenance, ProvenanceSuffix}, {SBOM, SBOMSuffix}} {
		data, err := s.make(p)
		if err == nil {
			path := filepath.Join(dir, mats.Name+s.suffix)
			if err = packager.WriteFileAtomic(path, data, 0o644); err == nil {
				written = append(written, path)
				continue
			}
		}
		for _, f := range written {
			os.Remove(f)
		}
		return nil, err
	}
	return written, nil
}
