package statement

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/ecc-bpf/ecc/packager/attest"
)

func sum(s string) string { return digest.FromString(s).Encoded() }

func testMaterials(arch string) *attest.Materials {
	m := &attest.Materials{
		Name: "probe", Arch: arch, Object: sum("object " + map[string]string{"x86_64": "amd64"}[arch] + map[string]string{"arm64": "arm64"}[arch]),
		Files: []attest.File{
			{Path: "vmlinux.h", Kind: attest.KindVmlinux, SHA256: sum("vmlinux " + arch)},
			{Path: "probe.h", Kind: attest.KindExportHeader, SHA256: sum("probe.h")},
			{Path: "probe.bpf.c", Kind: attest.KindSource, SHA256: sum("probe.bpf.c")},
			{Path: "/usr/include/bpf/bpf_helpers.h", Kind: attest.KindSystem, SHA256: sum("helpers")},
		},
		CFlags:       []string{"-DDEBUG", "-Wall"},
		Clang:        attest.Tool{Name: "clang", Version: "19.1.7", Path: "/usr/bin/clang-19"},
		BTF:          attest.BTF{Path: "/sys/kernel/btf/vmlinux", SHA256: sum("btf " + arch)},
		KernelBTF:    []attest.KernelBTF{{Release: "6.1.0-57-cloud-amd64", SHA256: sum("kbtf")}},
		Builder:      attest.Tool{Name: "ecc", Version: "v1.2.3", Commit: "abc"},
		InvocationID: "id-" + arch,
		StartedOn:    time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC),
		FinishedOn:   time.Date(2026, 12, 5, 12, 0, 1, 0, time.UTC),
	}
	m.Sort()
	return m
}

func testPackage() *attest.Package {
	return &attest.Package{
		Name: "probe", Version: "1.0", Repository: "registry.example/probes/probe",
		Index: attest.Subject{Name: "registry.example/probes/probe", Digest: digest.FromString("index"), MediaType: "application/vnd.oci.image.index.v1+json"},
		Platforms: []attest.Platform{
			attest.NewPlatform("probe", []byte("object amd64"), testMaterials("x86_64"), digest.FromString("manifest amd64")),
			attest.NewPlatform("probe", []byte("object arm64"), testMaterials("arm64"), digest.FromString("manifest arm64")),
		},
	}
}

// generic decodes JSON into maps and slices for field-by-field checks.
func generic(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return m
}

func field(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object at %q", strings.Join(path, "."), p)
		}
		if v, ok = m[p]; !ok {
			t.Fatalf("%s: no %q", strings.Join(path, "."), p)
		}
	}
	return v
}

// checkSubjects asserts the in-toto Statement v1 fields and that the
// subjects are the index, both manifests and both objects.
func checkSubjects(t *testing.T, st map[string]any, predicateType string) {
	t.Helper()
	if st["_type"] != "https://in-toto.io/Statement/v1" || st["predicateType"] != predicateType {
		t.Errorf("_type %v predicateType %v", st["_type"], st["predicateType"])
	}
	want := map[string]bool{
		digest.FromString("index").Encoded():          true,
		digest.FromString("manifest amd64").Encoded(): true,
		digest.FromString("manifest arm64").Encoded(): true,
		digest.FromString("object amd64").Encoded():   true,
		digest.FromString("object arm64").Encoded():   true,
	}
	subs := field(t, st, "subject").([]any)
	if len(subs) != len(want) {
		t.Fatalf("%d subjects, want %d", len(subs), len(want))
	}
	for _, s := range subs {
		d := field(t, s, "digest", "sha256").(string)
		if !want[d] {
			t.Errorf("unexpected subject %v", s)
		}
		delete(want, d)
	}
	if first := subs[0].(map[string]any); first["name"] != "registry.example/probes/probe" || first["mediaType"] != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("first subject %v", first)
	}
}

func TestProvenance(t *testing.T) {
	data, err := Provenance(testPackage())
	if err != nil {
		t.Fatal(err)
	}
	st := generic(t, data)
	checkSubjects(t, st, "https://slsa.dev/provenance/v1")
	bd := field(t, st, "predicate", "buildDefinition")
	if field(t, bd, "buildType") != BuildType {
		t.Errorf("buildType %v", field(t, bd, "buildType"))
	}
	ext := field(t, bd, "externalParameters").(map[string]any)
	if ext["source"] != "probe.bpf.c" || ext["exportHeader"] != "probe.h" ||
		strings.Join(strs(ext["cflags"]), " ") != "-DDEBUG -Wall" || strings.Join(strs(ext["arches"]), ",") != "x86_64,arm64" {
		t.Errorf("externalParameters %v", ext)
	}
	if field(t, ext, "btf", "arm64") != "/sys/kernel/btf/vmlinux" {
		t.Errorf("btf %v", ext["btf"])
	}
	deps := map[string][]string{} // name → digests
	var clang map[string]any
	for _, d := range field(t, bd, "resolvedDependencies").([]any) {
		m := d.(map[string]any)
		name := m["name"].(string)
		if name == "clang" {
			clang = m
			continue
		}
		deps[name] = append(deps[name], field(t, m, "digest", "sha256").(string))
	}
	for _, f := range testMaterials("x86_64").Files {
		if !contains(deps[f.Path], f.SHA256) {
			t.Errorf("resolvedDependencies lack %s %s: %v", f.Path, f.SHA256, deps[f.Path])
		}
	}
	// vmlinux.h and the BTF differ per architecture: both are listed.
	if len(deps["vmlinux.h"]) != 2 || len(deps["/sys/kernel/btf/vmlinux"]) != 2 || !contains(deps["/sys/kernel/btf/vmlinux"], sum("btf arm64")) {
		t.Errorf("per-arch dependencies: vmlinux.h %v, btf %v", deps["vmlinux.h"], deps["/sys/kernel/btf/vmlinux"])
	}
	if len(deps["probe.bpf.c"]) != 1 || !contains(deps["btf/6.1.0-57-cloud-amd64"], sum("kbtf")) {
		t.Errorf("source %v, kernel btf %v", deps["probe.bpf.c"], deps["btf/6.1.0-57-cloud-amd64"])
	}
	if clang == nil || clang["uri"] != "file:///usr/bin/clang-19" || field(t, clang, "annotations", "version") != "19.1.7" {
		t.Errorf("clang %v", clang)
	}
	rd := field(t, st, "predicate", "runDetails")
	if field(t, rd, "builder", "id") != BuilderID+"@v1.2.3" || field(t, rd, "builder", "version", "clang") != "19.1.7" || field(t, rd, "builder", "version", "commit") != "abc" {
		t.Errorf("builder %v", field(t, rd, "builder"))
	}
	if field(t, rd, "metadata", "startedOn") != "2026-12-05T12:00:00Z" || field(t, rd, "metadata", "finishedOn") != "2026-12-05T12:00:01Z" ||
		field(t, rd, "metadata", "invocationId") != "id-x86_64,id-arm64" {
		t.Errorf("metadata %v", field(t, rd, "metadata"))
	}
	// The same package gives the same bytes; attest.Parse reads them back.
	again, _ := Provenance(testPackage())
	if string(again) != string(data) {
		t.Error("two statements of one package differ")
	}
	parsed, err := attest.Parse(data)
	if err != nil || parsed.PredicateType != ProvenancePredicateType || !parsed.HasSubject(digest.FromString("index")) || parsed.HasSubject(digest.FromString("other")) {
		t.Errorf("Parse: %v %+v", err, parsed)
	}
}

func TestSBOM(t *testing.T) {
	data, err := SBOM(testPackage())
	if err != nil {
		t.Fatal(err)
	}
	st := generic(t, data)
	checkSubjects(t, st, "https://spdx.dev/Document/v2.3")
	doc := field(t, st, "predicate").(map[string]any)
	if doc["spdxVersion"] != "SPDX-2.3" || doc["dataLicense"] != "CC0-1.0" || doc["SPDXID"] != "SPDXRef-DOCUMENT" ||
		!strings.HasPrefix(doc["documentNamespace"].(string), sbomNamespace+"probe-") || field(t, doc, "creationInfo", "created") != "2026-12-05T12:00:01Z" {
		t.Errorf("document header %v", doc)
	}
	files := map[string]string{} // SPDXID → name
	sums := map[string][]string{}
	for _, f := range field(t, doc, "files").([]any) {
		m := f.(map[string]any)
		files[m["SPDXID"].(string)] = m["fileName"].(string)
		cs := m["checksums"].([]any)[0].(map[string]any)
		if cs["algorithm"] != "SHA256" {
			t.Errorf("checksum %v", cs)
		}
		sums[m["fileName"].(string)] = append(sums[m["fileName"].(string)], cs["checksumValue"].(string))
	}
	for _, f := range testMaterials("arm64").Files {
		if !contains(sums[f.Path], f.SHA256) {
			t.Errorf("SBOM lacks %s %s", f.Path, f.SHA256)
		}
	}
	if !contains(sums["x86_64/probe.bpf.o"], digest.FromString("object amd64").Encoded()) || !contains(sums["arm64/probe.bpf.o"], digest.FromString("object arm64").Encoded()) {
		t.Errorf("objects: %v", sums)
	}
	pkgs := map[string]string{}
	for _, p := range field(t, doc, "packages").([]any) {
		m := p.(map[string]any)
		pkgs[m["name"].(string)], _ = m["versionInfo"].(string)
	}
	if pkgs["probe"] != "1.0" || pkgs["clang"] != "19.1.7" || pkgs["ecc"] != "v1.2.3" {
		t.Errorf("packages %v", pkgs)
	}
	// spdx/tools-golang reads the predicate back as an SPDX 2.3 document
	// whose relationships resolve. Ten files: two objects, the source,
	// header and system header shared, a vmlinux.h and a BTF per arch,
	// one kernel BTF.
	var predicate struct{ Predicate json.RawMessage }
	json.Unmarshal(data, &predicate)
	var read spdx.Document
	if err := spdxjson.ReadInto(bytes.NewReader(predicate.Predicate), &read); err != nil {
		t.Fatalf("spdx/tools-golang reads: %v", err)
	}
	if read.SPDXVersion != "SPDX-2.3" || len(read.Files) != 10 || len(read.Packages) != 3 {
		t.Errorf("read back: %s, %d files, %d packages", read.SPDXVersion, len(read.Files), len(read.Packages))
	}
	ids := map[common.ElementID]bool{"DOCUMENT": true}
	for _, f := range read.Files {
		ids[f.FileSPDXIdentifier] = true
	}
	for _, p := range read.Packages {
		ids[p.PackageSPDXIdentifier] = true
	}
	for _, r := range read.Relationships {
		if !ids[r.RefA.ElementRefID] || !ids[r.RefB.ElementRefID] {
			t.Errorf("relationship %v %s %v names an element the document lacks", r.RefA, r.Relationship, r.RefB)
		}
	}
	// Every file of the arm64 object is something it was generated from.
	generated := map[string]bool{}
	for _, r := range field(t, doc, "relationships").([]any) {
		m := r.(map[string]any)
		if m["relationshipType"] == "GENERATED_FROM" && files[m["spdxElementId"].(string)] == "arm64/probe.bpf.o" {
			generated[files[m["relatedSpdxElement"].(string)]] = true
		}
	}
	for _, f := range testMaterials("arm64").Files {
		if !generated[f.Path] {
			t.Errorf("arm64/probe.bpf.o is not GENERATED_FROM %s (%v)", f.Path, generated)
		}
	}
}

func TestRefusals(t *testing.T) {
	p := testPackage()
	p.Platforms[0].Materials.Files[0].SHA256 = "not hex"
	if _, err := Provenance(p); !errors.Is(err, attest.ErrMaterials) {
		t.Errorf("bad digest: %v", err)
	}
	if _, err := SBOM(&attest.Package{Name: "x"}); !errors.Is(err, attest.ErrStatement) {
		t.Errorf("no platform: %v", err)
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
