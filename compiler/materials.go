package compiler

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecc-bpf/ecc/compiler/buildcache"
	"github.com/ecc-bpf/ecc/packager"
	"github.com/ecc-bpf/ecc/packager/attest"
)

// builder is the ecc named in the materials: Options.Builder, with
// defaults.
func (b *builder) builder() attest.Tool {
	t := b.o.Builder
	if t.Name == "" {
		t.Name = "ecc"
	}
	if t.Version == "" {
		t.Version = "devel"
	}
	return t
}

// materials records what a build read: every file clang's dependency
// output names (the source first), with its SHA-256 as the build cache
// recorded it, and the flags, clang, BTF and ecc that made the object.
func (b *builder) materials(a Arch, bi *btfInfo, object []byte, deps []buildcache.Dep, kbtf []packager.KernelBTF, start time.Time) (*attest.Materials, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	m := &attest.Materials{
		InvocationID: hex.EncodeToString(id),
		StartedOn:    start.UTC(),
		FinishedOn:   time.Now().UTC(),
		Name:         b.name,
		Object:       sha256Hex(object),
		Arch:         a.Name,
		CFlags:       append([]string{}, b.o.CFlags...),
		Clang:        attest.Tool{Name: "clang", Version: b.clang.Version, Path: b.clang.Path},
		BTF:          attest.BTF{Path: bi.path, SHA256: bi.digest},
		Builder:      b.builder(),
	}
	srcDir := filepath.Dir(b.src)
	for _, d := range deps {
		m.Files = append(m.Files, attest.File{Path: b.materialPath(d.Path, srcDir, bi), Kind: b.materialKind(d.Path, srcDir, bi), SHA256: d.Sum})
	}
	if m.Source() == nil {
		// clang names the input first; through the wrapper it may not.
		m.Files = append(m.Files, attest.File{Path: filepath.Base(b.src), Kind: attest.KindSource, SHA256: sha256Hex(b.srcText)})
	}
	for _, k := range kbtf {
		m.KernelBTF = append(m.KernelBTF, attest.KernelBTF{Release: k.Release, SHA256: sha256Hex(k.Data)})
	}
	m.Sort()
	return m, m.Check()
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// within reports whether path is dir or below it, and the relative path.
func within(path, dir string) (string, bool) {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}

// materialKind classifies a file the build read.
func (b *builder) materialKind(path, srcDir string, bi *btfInfo) string {
	switch {
	case path == b.src:
		return attest.KindSource
	case b.hdr != "" && path == b.hdr:
		return attest.KindExportHeader
	}
	if _, ok := within(path, bi.dir); ok {
		return attest.KindVmlinux
	}
	if _, ok := within(path, b.include); ok {
		return attest.KindECC
	}
	if _, ok := within(path, srcDir); ok {
		return attest.KindHeader
	}
	for _, d := range b.clang.IncludeDirs {
		if _, ok := within(path, d); ok {
			return attest.KindSystem
		}
	}
	if strings.HasPrefix(path, "/usr/") {
		return attest.KindSystem // clang's own resource headers
	}
	return attest.KindHeader // the project's, beside the source's folder
}

// materialPath names a file the build read: relative to the source's
// folder for the project's files, under "ecc/include/" for ecc's headers,
// "vmlinux.h" for the generated one, absolute for the system's.
func (b *builder) materialPath(path, srcDir string, bi *btfInfo) string {
	switch b.materialKind(path, srcDir, bi) {
	case attest.KindVmlinux:
		rel, _ := within(path, bi.dir)
		return rel
	case attest.KindECC:
		rel, _ := within(path, b.include)
		return "ecc/include/" + filepath.ToSlash(rel)
	case attest.KindSystem:
		return path
	}
	if rel, err := filepath.Rel(srcDir, path); err == nil {
		return filepath.ToSlash(rel)
	}
	return path
}
