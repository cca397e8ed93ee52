// Package kernel finds the bootable kernel image an `ecc test --kernel K`
// names: a vmlinuz file as it is (an x86 bzImage, or an arm64 Image, plain
// or gzip-compressed), or the boot/vmlinuz-* of a Debian or Ubuntu
// linux-image-*.deb of any architecture, extracted in Go and kept in a
// cache.
package kernel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ecc-bpf/ecc/internal/atomicfile"
	"github.com/ecc-bpf/ecc/internal/debpkg"
	"github.com/ecc-bpf/ecc/internal/kimage"
	"github.com/ecc-bpf/ecc/registry"
)

// Image is a kernel to boot.
type Image struct {
	// Name is the kernel as the user gave it.
	Name string
	// Path is the image to pass to qemu -kernel.
	Path string
	// Boot is what the image says: its architecture (the machine that
	// boots it), its version string and Release (what uname -r will
	// print), its format.
	kimage.Boot
	// Package is the linux-image-*.deb the kernel came from ("" for a
	// vmlinuz file or an image): its modules can be loaded (Modules).
	Package string
}

// ErrNotKernel is wrapped when a file is neither a bzImage nor a kernel
// package.
var ErrNotKernel = errors.New("not a kernel image (a vmlinuz file: an x86 bzImage or an arm64 Image) nor a linux-image-*.deb package")

// Error is a kernel that cannot be used; it names it.
type Error struct {
	Name string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("kernel %s: %v", e.Name, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// OpenOptions say where kernels are cached and how registries are reached.
type OpenOptions struct {
	// CacheDir keeps kernels extracted from packages and images (one
	// folder per digest); "" means os.UserCacheDir()/ecc/kernels.
	CacheDir string
	// Registry is for kernel images (nil: the defaults).
	Registry *registry.Options
}

// Open resolves name: a vmlinuz/bzImage file, a linux-image-*.deb, or,
// when no such file exists, an OCI image reference in the layout of
// cilium/ci-kernels (/boot/vmlinuz in a layer).
func Open(ctx context.Context, name string, o *OpenOptions) (*Image, error) {
	if o == nil {
		o = &OpenOptions{}
	}
	cacheDir := o.CacheDir
	if cacheDir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return nil, &Error{Name: name, Err: fmt.Errorf("no cache folder for extracted kernels: %w", err)}
		}
		cacheDir = filepath.Join(d, "ecc", "kernels")
	}
	var im *Image
	var err error
	if ref, ok := ImageRef(name); ok {
		im, err = fromImage(ctx, name, ref, o, cacheDir)
	} else {
		im, err = open(name, cacheDir)
	}
	if err != nil {
		return nil, &Error{Name: name, Err: err}
	}
	return im, nil
}

func open(name, cacheDir string) (*Image, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, ErrNotKernel
	}
	head := make([]byte, len(debpkg.Magic))
	n, _ := io.ReadFull(f, head)
	if debpkg.IsDeb(head[:n]) {
		im, err := fromDeb(name, f, cacheDir)
		if err != nil {
			return nil, err
		}
		im.Package = name
		return im, nil
	}
	return readImage(name, name, f)
}

// readImage reads the boot image f (at path) with kimage.ParseBoot; a
// file whose start is none is refused before the rest is read.
func readImage(name, path string, f *os.File) (*Image, error) {
	head := make([]byte, 4096)
	n, _ := f.ReadAt(head, 0)
	if _, err := kimage.ParseBoot(head[:n]); errors.Is(err, kimage.ErrNotBoot) {
		return nil, ErrNotKernel
	}
	data, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, kimage.MaxImageSize+1), kimage.MaxImageSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > kimage.MaxImageSize {
		return nil, fmt.Errorf("larger than %d bytes: %w", kimage.MaxImageSize, ErrNotKernel)
	}
	b, err := kimage.ParseBoot(data)
	if errors.Is(err, kimage.ErrNotBoot) {
		return nil, ErrNotKernel
	}
	if err != nil {
		return nil, err
	}
	return &Image{Name: name, Path: path, Boot: *b}, nil
}

// fromDeb extracts boot/vmlinuz-* from a kernel package into the cache,
// once per package digest.
func fromDeb(name string, f *os.File, cacheDir string) (*Image, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	dir := filepath.Join(cacheDir, hex.EncodeToString(h.Sum(nil))[:32])
	if ms, _ := filepath.Glob(filepath.Join(dir, "vmlinuz-*")); len(ms) == 1 {
		return imageAt(name, ms[0])
	}
	return extractVmlinuz(name, f, dir)
}

// extractVmlinuz writes the package's vmlinuz into dir.
func extractVmlinuz(name string, f *os.File, dir string) (*Image, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out string
	err := debpkg.Vmlinuz(f, func(base string, body io.Reader) error {
		out = filepath.Join(dir, base)
		return atomicfile.Copy(out, 0o644, body)
	})
	if err != nil {
		os.Remove(dir) // only if empty: nothing half-extracted stays
		return nil, err
	}
	return imageAt(name, out)
}

// imageAt is the kernel at path; name is a .deb when path is in the cache.
func imageAt(name, path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	im, err := readImage(name, path, f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return im, nil
}
