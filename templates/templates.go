// Package templates holds the files ecc embeds: the headers injected into
// BPF builds (include/), and later the `ecc init` project scaffolds.
package templates

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

//go:embed include
var files embed.FS

//go:embed wasm
var wasmFiles embed.FS

// Wasm is the guest-side SDK of Wasm packages, which `ecc build --wasm`
// puts on guests' include path (c/ecc_wasm.h) or into their module
// (go/eccwasm/, the Go package github.com/ecc-bpf/ecc/templates/wasm/go/eccwasm).
func Wasm() fs.FS {
	sub, err := fs.Sub(wasmFiles, "wasm")
	if err != nil {
		panic(err)
	}
	return sub
}

// Include is the tree of headers put on the include path of every build:
// ecc.h (ECC_EXPORT) and bpf/ shadow headers that add what an old libbpf lacks.
func Include() fs.FS {
	sub, err := fs.Sub(files, "include")
	if err != nil {
		panic(err)
	}
	return sub
}

// Digest identifies the content of a tree of embedded files.
func Digest(fsys fs.FS) string {
	h := sha256.New()
	var names []string
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(fsys, n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

var includeDigest = sync.OnceValue(func() string { return Digest(Include()) })
var wasmDigest = sync.OnceValue(func() string { return Digest(Wasm()) })

// IncludeDigest identifies the content of Include.
func IncludeDigest() string { return includeDigest() }

// ExtractInclude writes Include into a content-addressed folder under
// cacheDir (once) and returns its path.
func ExtractInclude(cacheDir string) (string, error) {
	return Extract(Include(), includeDigest(), filepath.Join(cacheDir, "include"))
}

// ExtractWasm writes the Wasm guest SDK likewise.
func ExtractWasm(cacheDir string) (string, error) {
	return Extract(Wasm(), wasmDigest(), filepath.Join(cacheDir, "wasm-sdk"))
}

// Extract writes fsys into parent/DIGEST[:16], once: through a temporary
// folder renamed into place, so that concurrent builds never see part of it.
func Extract(fsys fs.FS, digest, parent string) (string, error) {
	dir := filepath.Join(parent, digest[:16])
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644)
	}
	if err != nil {
		return "", fmt.Errorf("extract embedded files to %s: %w", parent, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process got there first.
		if _, serr := os.Stat(filepath.Join(dir, ".complete")); serr != nil {
			return "", fmt.Errorf("extract embedded files to %s: %w", parent, err)
		}
	}
	return dir, nil
}
