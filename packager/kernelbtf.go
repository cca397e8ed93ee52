package packager

import (
	"archive/tar"
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// KernelBTF is a kernel's BTF that a package carries for kernels without
// BTF of their own (`ecc build --btfgen`), cut down to what the object's
// CO-RE relocations need. It is data from wherever the package came from:
// runtimes parse it as BTF (cilium/ebpf's btf package), never as a path.
type KernelBTF struct {
	// Release is the kernel's `uname -r` (ValidRelease).
	Release string
	// Arch is the kernel's architecture, the package's own.
	Arch string
	// Data is the raw BTF.
	Data []byte
}

// Limits on the kernels' BTF in a package. A minimised BTF is a few
// kilobytes, a whole vmlinux BTF 5–10 MB.
const (
	// MaxKernelBTFs bounds the kernels a package carries BTF for.
	MaxKernelBTFs = 64
	// MaxKernelBTFSize bounds one kernel's BTF; MaxBTFSize all of them.
	MaxKernelBTFSize = 16 << 20
	// MaxReleaseLength is the longest `uname -r` (the kernel's
	// __NEW_UTS_LEN).
	MaxReleaseLength = 64
)

// ValidRelease reports whether s may be a kernel release in a package: a
// ValidName of at most MaxReleaseLength bytes, so that RELEASE.btf is a
// plain file name.
func ValidRelease(s string) bool { return len(s) <= MaxReleaseLength && ValidName(s) }

// BTFReleases lists the releases of bs, sorted.
func BTFReleases(bs []KernelBTF) []string {
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.Release)
	}
	sort.Strings(out)
	return out
}

// btfWire is one entry of package.json's "btf" (an ecc extension).
type btfWire struct {
	Release string `json:"release"`
	Arch    string `json:"arch,omitempty"`
	// Size is the raw BTF's size, checked after inflating.
	Size int64 `json:"size"`
	// SHA256 is the raw BTF's digest, hex.
	SHA256 string `json:"sha256"`
	// Data is base64(zlib(raw BTF)), as bpf_object.
	Data string `json:"data"`
}

// validateBTF checks a package's kernel BTF: within the limits, releases
// valid and distinct, the package's architecture, BTF magic.
func validateBTF(bs []KernelBTF, arch string) error {
	if len(bs) > MaxKernelBTFs {
		return invalid("btf: %d kernels, more than %d", len(bs), MaxKernelBTFs)
	}
	seen := map[string]bool{}
	total := 0
	for i, b := range bs {
		total += len(b.Data)
		switch {
		case total > MaxBTFSize:
			return invalid("btf: more than %d bytes in all", MaxBTFSize)
		case !ValidRelease(b.Release):
			return invalid("btf[%d]: release %q is not a kernel release (letters, digits, '.', '-', '+', '_', at most %d bytes)", i, b.Release, MaxReleaseLength)
		case seen[b.Release]:
			return invalid("btf: two entries for release %s", b.Release)
		case b.Arch != "" && arch != "" && b.Arch != arch:
			return invalid("btf[%d] (%s): architecture %s, the package's is %s", i, b.Release, b.Arch, arch)
		case len(b.Data) > MaxKernelBTFSize:
			return invalid("btf[%d] (%s): %d bytes, more than %d", i, b.Release, len(b.Data), MaxKernelBTFSize)
		case !isBTF(b.Data):
			return invalid("btf[%d] (%s): not BTF (no BTF header)", i, b.Release)
		}
		seen[b.Release] = true
	}
	return nil
}

// isBTF reports whether data starts with a BTF header, in either byte order.
func isBTF(data []byte) bool {
	return len(data) >= 24 && (binary.LittleEndian.Uint16(data) == 0xeB9F || binary.BigEndian.Uint16(data) == 0xeB9F)
}

func marshalBTF(bs []KernelBTF, level int) ([]btfWire, error) {
	var out []btfWire
	for _, b := range bs {
		z, err := deflate(b.Data, level)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b.Data)
		out = append(out, btfWire{Release: b.Release, Arch: b.Arch, Size: int64(len(b.Data)),
			SHA256: hex.EncodeToString(sum[:]), Data: base64.StdEncoding.EncodeToString(z)})
	}
	return out, nil
}

func unmarshalBTF(ws []btfWire) ([]KernelBTF, error) {
	if len(ws) > MaxKernelBTFs {
		return nil, invalid("btf: %d kernels, more than %d", len(ws), MaxKernelBTFs)
	}
	var out []KernelBTF
	for i, w := range ws {
		if w.Size <= 0 || w.Size > MaxKernelBTFSize {
			return nil, invalid("btf[%d].size %d is out of range (1..%d)", i, w.Size, MaxKernelBTFSize)
		}
		data, err := inflateField(fmt.Sprintf("btf[%d].data", i), fmt.Sprintf("btf[%d].size", i), w.Data, w.Size)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		if !strings.EqualFold(w.SHA256, hex.EncodeToString(sum[:])) {
			return nil, invalid("btf[%d] (%q): its data does not match its sha256", i, w.Release)
		}
		out = append(out, KernelBTF{Release: w.Release, Arch: w.Arch, Data: data})
	}
	return out, nil
}

func deflate(data []byte, level int) ([]byte, error) {
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, level)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return z.Bytes(), nil
}

// BTFArchive lays kernels' BTF out as the BTF layer of a package on a
// registry (MediaTypeBTF): a tar of RELEASE.btf files, sorted, with no
// times or owners, so that identical BTF gives an identical layer.
func BTFArchive(bs []KernelBTF) ([]byte, error) {
	if err := validateBTF(bs, ""); err != nil {
		return nil, err
	}
	sorted := append([]KernelBTF(nil), bs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Release < sorted[j].Release })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, b := range sorted {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: b.Release + ".btf", Mode: 0o644, Size: int64(len(b.Data)),
			ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ErrBTFArchive is wrapped by every error about a malformed BTF layer.
var ErrBTFArchive = errors.New("invalid BTF archive")

// ReadBTFArchive reads a BTF layer (BTFArchive) of a package for arch.
// Only regular files named RELEASE.btf at the top are accepted, at most
// MaxKernelBTFs of at most MaxKernelBTFSize bytes each, each BTF.
func ReadBTFArchive(data []byte, arch string) ([]KernelBTF, error) {
	tr := tar.NewReader(bytes.NewReader(data))
	var out []KernelBTF
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBTFArchive, err)
		}
		release, ok := strings.CutSuffix(hdr.Name, ".btf")
		switch {
		case hdr.Typeflag != tar.TypeReg:
			return nil, fmt.Errorf("%w: %q is not a regular file", ErrBTFArchive, hdr.Name)
		case !ok || !ValidRelease(release):
			return nil, fmt.Errorf("%w: %q is not named RELEASE.btf", ErrBTFArchive, hdr.Name)
		case hdr.Size < 0 || hdr.Size > MaxKernelBTFSize:
			return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrBTFArchive, hdr.Name, hdr.Size, MaxKernelBTFSize)
		case len(out) == MaxKernelBTFs:
			return nil, fmt.Errorf("%w: more than %d kernels", ErrBTFArchive, MaxKernelBTFs)
		}
		b := make([]byte, hdr.Size)
		if _, err := io.ReadFull(tr, b); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBTFArchive, hdr.Name, err)
		}
		out = append(out, KernelBTF{Release: release, Arch: arch, Data: b})
	}
	if err := validateBTF(out, arch); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBTFArchive, err)
	}
	return out, nil
}
