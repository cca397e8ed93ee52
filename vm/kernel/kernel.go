// Package kernel finds the bootable kernel image an `ecc test --kernel K`
// names: a vmlinuz/bzImage file as it is, or the boot/vmlinuz-* of a
// Debian or Ubuntu linux-image-*.deb, extracted in Go and kept in a cache.
package kernel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ecc-bpf/ecc/internal/atomicfile"
	"github.com/ecc-bpf/ecc/internal/debpkg"
	"github.com/ecc-bpf/ecc/registry"
)

// Image is a kernel to boot.
type Image struct {
	// Name is the kernel as the user gave it.
	Name string
	// Path is the bzImage to pass to qemu -kernel.
	Path string
	// Version is the kernel's own version string from the bzImage header
	// ("6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP ..."),
	// or "" when it has none.
	Version string
	// Package is the linux-image-*.deb the kernel came from ("" for a
	// vmlinuz file or an image): its modules can be loaded (Modules).
	Package string
}

// Release is the first word of Version: what uname -r will print.
func (im *Image) Release() string {
	r, _, _ := strings.Cut(im.Version, " ")
	return r
}

// ErrNotKernel is wrapped when a file is neither a bzImage nor a kernel
// package.
var ErrNotKernel = errors.New("not a kernel image (a vmlinuz/bzImage file) nor a linux-image-*.deb package")

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
	head := make([]byte, 1024)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case debpkg.IsDeb(head):
		im, err := fromDeb(name, f, cacheDir)
		if err != nil {
			return nil, err
		}
		im.Package = name
		return im, nil
	case isBzImage(head):
		v, err := Version(f)
		if err != nil {
			return nil, err
		}
		return &Image{Name: name, Path: name, Version: v}, nil
	}
	return nil, ErrNotKernel
}

// isBzImage checks the x86 boot protocol header: "HdrS" at 0x202.
func isBzImage(head []byte) bool {
	return len(head) >= 0x206 && string(head[0x202:0x206]) == "HdrS"
}

// Version reads the kernel version string a bzImage carries (boot
// protocol: kernel_version at 0x20e is its offset minus 0x200).
func Version(r io.ReaderAt) (string, error) {
	hdr := make([]byte, 0x210)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return "", fmt.Errorf("read the boot header: %w", err)
	}
	if !isBzImage(hdr) {
		return "", ErrNotKernel
	}
	off := binary.LittleEndian.Uint16(hdr[0x20e:])
	if off == 0 {
		return "", nil
	}
	buf := make([]byte, 256)
	n, _ := r.ReadAt(buf, int64(off)+0x200)
	buf = buf[:n]
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return string(buf), nil
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
	v, err := Version(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return &Image{Name: name, Path: path, Version: v}, nil
}
