// Package attest is what ecc knows for attestations: Materials, the
// inputs `ecc build` recorded (the build cache keeps them with its
// entries, so a cached build reports the same), the Package the
// statements describe, and Parse, which checks in-toto statements read
// back from a registry (docs/format.md, "Attestations"). The statements
// themselves (SLSA provenance v1, an SPDX 2.3 SBOM) are written by
// packager/attest/statement, which ecli does not link.
package attest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
)

// MaterialsFile is the file `ecc build` writes beside package.json with the
// build's Materials, for `ecc push --attest`.
const MaterialsFile = "materials.json"

// File kinds in Materials.Files.
const (
	// KindSource is the NAME.bpf.c compiled.
	KindSource = "source"
	// KindExportHeader is the EXPORT_HEADER.h given to ecc build.
	KindExportHeader = "export-header"
	// KindHeader is a header the source included from the project.
	KindHeader = "header"
	// KindECC is a header ecc ships (<ecc.h>, the compat headers).
	KindECC = "ecc"
	// KindVmlinux is the vmlinux.h ecc generated from the BTF.
	KindVmlinux = "vmlinux"
	// KindSystem is a header of the system (libbpf's, the C library's).
	KindSystem = "system"
)

// File is one input of a build.
type File struct {
	// Path is relative to the source's folder for the project's files
	// (KindSource, KindExportHeader, KindHeader), "ecc/include/NAME" for
	// ecc's headers, "vmlinux.h" for the generated one, and absolute for
	// system headers.
	Path   string `json:"path"`
	Kind   string `json:"kind"`
	SHA256 string `json:"sha256"`
}

// Materials are a build's inputs, as ecc build knows them.
type Materials struct {
	// Name is NAME of NAME.bpf.c.
	Name string `json:"name"`
	// Arch is the target architecture (ecc's name: x86_64, arm64, ...).
	Arch string `json:"arch"`
	// Object is the SHA-256 of the BPF object the build produced (as
	// package.json holds it), so that materials left beside another
	// package are refused (CheckObject).
	Object string `json:"object_sha256"`
	// Files are the source and every file clang read (clang -MD), sorted
	// by path, the source first.
	Files []File `json:"files"`
	// CFlags are the user's extra flags (--cflags); Args the whole clang
	// command line but for the input, output and dependency file.
	CFlags []string `json:"cflags"`
	// Clang is the compiler.
	Clang Tool `json:"clang"`
	// BTF is the kernel BTF vmlinux.h was generated from: its path and the
	// SHA-256 of the raw BTF.
	BTF BTF `json:"btf"`
	// KernelBTF are the kernels whose BTF the package carries (--btfgen):
	// release and SHA-256 of the cut-down BTF.
	KernelBTF []KernelBTF `json:"kernel_btf,omitempty"`
	// Builder is the ecc that built it.
	Builder Tool `json:"builder"`
	// InvocationID names the build that made the object; StartedOn and
	// FinishedOn are when it ran (a cached build keeps the first's).
	InvocationID string    `json:"invocation_id"`
	StartedOn    time.Time `json:"started_on"`
	FinishedOn   time.Time `json:"finished_on"`
}

// Tool names a program and its version.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Commit is the source revision it was built from, when known.
	Commit string `json:"commit,omitempty"`
	// Path is where it was found (clang), when it matters.
	Path string `json:"path,omitempty"`
}

// BTF is the BTF a build's vmlinux.h came from.
type BTF struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// KernelBTF is a kernel's BTF in the package.
type KernelBTF struct {
	Release string `json:"release"`
	SHA256  string `json:"sha256"`
}

// Source returns the source file's entry (nil when absent).
func (m *Materials) Source() *File {
	for i := range m.Files {
		if m.Files[i].Kind == KindSource {
			return &m.Files[i]
		}
	}
	return nil
}

// Sort puts the files in their canonical order: the source first, then by
// path.
func (m *Materials) Sort() {
	sort.SliceStable(m.Files, func(i, j int) bool {
		a, b := m.Files[i], m.Files[j]
		if (a.Kind == KindSource) != (b.Kind == KindSource) {
			return a.Kind == KindSource
		}
		return a.Path < b.Path
	})
}

// CheckObject refuses materials of another build than object's.
func (m *Materials) CheckObject(object []byte) error {
	if got := digest.FromBytes(object).Encoded(); got != m.Object {
		return fmt.Errorf("%w: they describe the build of an object with sha256 %s, and the package's object is %s (rebuild it)", ErrMaterials, m.Object, got)
	}
	return nil
}

// ErrMaterials wraps every refusal of recorded materials.
var ErrMaterials = errors.New("invalid build materials")

// Check refuses materials that could not describe a build: no source, a
// digest that is not SHA-256 hex, an empty path or a file listed twice.
func (m *Materials) Check() error {
	if m.Name == "" || m.Arch == "" {
		return fmt.Errorf("%w: no name or architecture", ErrMaterials)
	}
	if m.Source() == nil {
		return fmt.Errorf("%w: no source file", ErrMaterials)
	}
	if !isSHA256(m.Object) {
		return fmt.Errorf("%w: object_sha256 %q is not 64 hex digits", ErrMaterials, m.Object)
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if f.Path == "" || seen[f.Path] {
			return fmt.Errorf("%w: file %q listed twice or unnamed", ErrMaterials, f.Path)
		}
		seen[f.Path] = true
		if !isSHA256(f.SHA256) {
			return fmt.Errorf("%w: file %s: sha256 %q is not 64 hex digits", ErrMaterials, f.Path, f.SHA256)
		}
	}
	if !isSHA256(m.BTF.SHA256) {
		return fmt.Errorf("%w: BTF %s: sha256 %q is not 64 hex digits", ErrMaterials, m.BTF.Path, m.BTF.SHA256)
	}
	for _, k := range m.KernelBTF {
		if !isSHA256(k.SHA256) {
			return fmt.Errorf("%w: kernel BTF %s: sha256 %q is not 64 hex digits", ErrMaterials, k.Release, k.SHA256)
		}
	}
	return nil
}

func isSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// maxMaterialsFile bounds what ReadMaterials reads: a build's inputs are
// a few hundred files.
const maxMaterialsFile = 4 << 20

// ReadMaterials reads and checks a materials.json.
func ReadMaterials(path string) (*Materials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMaterialsFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxMaterialsFile {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, ErrMaterials, maxMaterialsFile)
	}
	var m Materials
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrMaterials, err)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// Marshal is the materials as materials.json holds them.
func (m *Materials) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// OpenBuildMaterials reads the materials of what packager.OpenBuild
// reads at path (a package.json, or a build folder with one folder per
// extra architecture), by architecture. A package.json without
// materials beside it gives an error matching fs.ErrNotExist.
func OpenBuildMaterials(path string) (map[string]*Materials, error) {
	out := map[string]*Materials{}
	add := func(file string) error {
		m, err := ReadMaterials(file)
		if err != nil {
			return err
		}
		if other := out[m.Arch]; other != nil {
			return fmt.Errorf("%s: %w: a second build for %s", file, ErrMaterials, m.Arch)
		}
		out[m.Arch] = m
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return out, add(filepath.Join(filepath.Dir(path), MaterialsFile))
	}
	if _, err := os.Stat(filepath.Join(path, "package.json")); err == nil {
		if err := add(filepath.Join(path, MaterialsFile)); err != nil {
			return nil, err
		}
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		sub := filepath.Join(path, e.Name())
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(sub, "package.json")); err != nil {
			continue
		}
		if err := add(filepath.Join(sub, MaterialsFile)); err != nil {
			return nil, err
		}
	}
	return out, nil
}
