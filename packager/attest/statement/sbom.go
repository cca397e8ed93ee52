package statement

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/ecc-bpf/ecc/packager/attest"
)

const (
	// SBOMPredicateType is the in-toto predicate type of an SPDX 2.3
	// document (in-toto's SPDX predicate, versioned).
	SBOMPredicateType = "https://spdx.dev/Document/v2.3"
	// sbomNamespace prefixes documentNamespace, which SPDX wants unique:
	// the package's name and its first subject's digest follow.
	sbomNamespace = "https://github.com/ecc-bpf/ecc/spdx/"
)

// SBOM returns an in-toto statement whose predicate is an SPDX 2.3
// document of p: the package (its index digest as checksum when pushed),
// each platform's BPF object (a file the package CONTAINS, GENERATED_FROM
// the source and every header), those inputs with their SHA-256, and the
// tools that built it (clang and ecc, BUILD_TOOL_OF the package).
func SBOM(p *attest.Package) ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	doc, err := sbomDocument(p)
	if err != nil {
		return nil, err
	}
	return statement(p.Subjects(), SBOMPredicateType, doc)
}

func sbomDocument(p *attest.Package) (*spdx.Document, error) {
	first := p.Platforms[0].Materials
	subjects := p.Subjects()
	created := first.FinishedOn
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      p.Name,
		DocumentNamespace: sbomNamespace + p.Name + "-" + subjects[0].Digest.Encoded(),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: "ecc-" + first.Builder.Version}},
			Created:  created.UTC().Format(time.RFC3339),
		},
	}
	location := "NOASSERTION"
	if p.Repository != "" && p.Index.Digest != "" {
		location = p.Repository + "@" + p.Index.Digest.String()
	}
	pkgID := common.ElementID("Package-" + spdxID(p.Name))
	pkg := &spdx.Package{
		PackageName:             p.Name,
		PackageSPDXIdentifier:   pkgID,
		PackageVersion:          p.Version,
		PackageDownloadLocation: location,
		PrimaryPackagePurpose:   "APPLICATION",
		PackageSupplier:         &common.Supplier{Supplier: "NOASSERTION"},
	}
	if p.Index.Digest != "" {
		pkg.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: p.Index.Digest.Encoded()}}
	}
	doc.Packages = append(doc.Packages, pkg)
	rel := func(a, b common.ElementID, kind string) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", string(a)), RefB: common.MakeDocElementID("", string(b)), Relationship: kind,
		})
	}
	rel("DOCUMENT", pkgID, "DESCRIBES")
	tools := map[string]common.ElementID{}
	tool := func(t attest.Tool) common.ElementID {
		key := t.Name + " " + t.Version
		if id, ok := tools[key]; ok {
			return id
		}
		id := common.ElementID("Tool-" + spdxID(t.Name+"-"+t.Version))
		tools[key] = id
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName: t.Name, PackageSPDXIdentifier: id, PackageVersion: t.Version,
			PackageDownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "APPLICATION",
		})
		rel(id, pkgID, "BUILD_TOOL_OF")
		return id
	}
	files := map[string]common.ElementID{}
	file := func(name, sum, typ, comment string) common.ElementID {
		key := name + "\x00" + sum
		if id, ok := files[key]; ok {
			return id
		}
		id := common.ElementID(fmt.Sprintf("File-%d-%s", len(files)+1, spdxID(path.Base(name))))
		files[key] = id
		doc.Files = append(doc.Files, &spdx.File{
			FileName: name, FileSPDXIdentifier: id, FileTypes: []string{typ},
			Checksums:         []common.Checksum{{Algorithm: common.SHA256, Value: sum}},
			FileCopyrightText: "NOASSERTION", FileComment: comment,
		})
		return id
	}
	for _, pl := range p.Platforms {
		m := pl.Materials
		obj := file(pl.Materials.Arch+"/"+pl.Object.Name, pl.Object.Digest.Encoded(), "BINARY", "BPF object for "+pl.Object.Platform)
		rel(pkgID, obj, "CONTAINS")
		for _, f := range m.Files {
			typ := "SOURCE"
			if f.Kind == attest.KindVmlinux {
				typ = "OTHER" // generated from the BTF below
			}
			rel(obj, file(f.Path, f.SHA256, typ, f.Kind), "GENERATED_FROM")
		}
		rel(obj, file(m.BTF.Path, m.BTF.SHA256, "BINARY", "BTF vmlinux.h was generated from ("+m.Arch+")"), "GENERATED_FROM")
		for _, k := range m.KernelBTF {
			rel(pkgID, file("btf/"+k.Release+".btf", k.SHA256, "BINARY", "kernel BTF the package carries"), "CONTAINS")
		}
		tool(attest.Tool{Name: "clang", Version: m.Clang.Version})
	}
	tool(first.Builder)
	return doc, nil
}

// spdxID keeps what SPDX allows in an identifier: letters, digits, '.'
// and '-'.
func spdxID(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '-'
	}, s)
}
