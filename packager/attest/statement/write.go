package statement

import (
	"os"
	"path/filepath"

	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/attest"
)

// Files `ecc build --attest` writes beside package.json.
const (
	ProvenanceSuffix = ".provenance.json"
	SBOMSuffix       = ".sbom.spdx.json"
)

// All returns the statements ecc attaches to a package: its provenance
// (NAME.provenance.json) and its SBOM (NAME.sbom.spdx.json).
func All(p *attest.Package) ([]attest.Document, error) {
	prov, err := Provenance(p)
	if err != nil {
		return nil, err
	}
	sbom, err := SBOM(p)
	if err != nil {
		return nil, err
	}
	return []attest.Document{
		{Data: prov, PredicateType: ProvenancePredicateType, Title: p.Name + ProvenanceSuffix},
		{Data: sbom, PredicateType: SBOMPredicateType, Title: p.Name + SBOMSuffix},
	}, nil
}

// WriteBuild writes the provenance and the SBOM of a built, not yet
// pushed, object (its subject is the object alone) into dir as
// NAME.provenance.json and NAME.sbom.spdx.json, and returns their paths.
func WriteBuild(dir, objectPath string, mats *attest.Materials) ([]string, error) {
	obj, err := os.ReadFile(objectPath)
	if err != nil {
		return nil, err
	}
	if err := mats.CheckObject(obj); err != nil {
		return nil, err
	}
	docs, err := All(&attest.Package{Name: mats.Name, Platforms: []attest.Platform{attest.NewPlatform(mats.Name, obj, mats, "")}})
	if err != nil {
		return nil, err
	}
	var written []string
	for _, d := range docs {
		path := filepath.Join(dir, d.Title)
		if err := packager.WriteFileAtomic(path, d.Data, 0o644); err != nil {
			for _, f := range written {
				os.Remove(f)
			}
			return nil, err
		}
		written = append(written, path)
	}
	return written, nil
}
