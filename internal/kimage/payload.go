package kimage

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf/btf"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Payload is a compressed kernel inside a boot image.
type Payload struct {
	// Offset and End delimit the compressed data in the image.
	Offset, End int
	// Method is the compression: gzip, xz, zstd, lz4, bzip2 or lzma.
	Method string
	// BzImage is set when an x86 setup header gave the payload's place;
	// Release is then the header's kernel_version, when it has one.
	BzImage bool
	Release string
}

// magics are the compressions the kernel's build can use (CONFIG_KERNEL_*),
// by the bytes their streams start with. lzo is left out: Debian's
// kernels use none of it, and no Go decoder is at hand.
var magics = []struct {
	method string
	magic  []byte
}{
	{"gzip", []byte{0x1f, 0x8b, 0x08}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"lz4", []byte{0x02, 0x21, 0x4c, 0x18}},
	{"bzip2", []byte("BZh")},
	{"lzma", []byte{0x5d, 0x00, 0x00}},
}

// maxCandidates bounds how many payloads Parse tries to decompress.
const maxCandidates = 8

// maxDecompressed is MaxDecompressed; tests lower it.
var maxDecompressed int64 = MaxDecompressed

// methodAt names the compression whose magic starts data ("" for none).
func methodAt(data []byte) string {
	for _, m := range magics {
		if bytes.HasPrefix(data, m.magic) {
			if m.method == "bzip2" && (len(data) < 4 || data[3] < '1' || data[3] > '9') {
				continue
			}
			return m.method
		}
	}
	return ""
}

// FindPayloads lists where compressed kernels may start in a boot image:
// for an x86 bzImage the one its setup header names; otherwise every
// place a compression's magic appears (lzma, whose magic is short, only
// at the start), in order, at most maxCandidates.
func FindPayloads(data []byte) []Payload {
	if p, ok := bzImagePayload(data); ok {
		return []Payload{p}
	}
	var out []Payload
	if m := methodAt(data); m != "" {
		out = append(out, Payload{Offset: 0, End: len(data), Method: m})
	}
	for i := 1; i < len(data) && len(out) < maxCandidates; i++ {
		// Find the next place any strong magic starts.
		next := -1
		for _, m := range magics[:5] {
			if j := bytes.Index(data[i:], m.magic); j >= 0 && (next < 0 || i+j < next) {
				next = i + j
			}
		}
		if next < 0 {
			break
		}
		if m := methodAt(data[next:]); m != "" && m != "lzma" {
			out = append(out, Payload{Offset: next, End: len(data), Method: m})
		}
		i = next
	}
	return out
}

// bzImagePayload reads an x86 boot protocol header (2.08 or later): "HdrS"
// at 0x202, the payload's offset and length at 0x248 and 0x24c counted
// from the protected-mode code, which follows setup_sects+1 sectors. The
// build appends the uncompressed size (4 bytes) to the payload; it is
// left out.
func bzImagePayload(data []byte) (Payload, bool) {
	if len(data) < 0x250 || string(data[0x202:0x206]) != "HdrS" || binary.LittleEndian.Uint16(data[0x206:]) < 0x208 {
		return Payload{}, false
	}
	sects := int(data[0x1f1])
	if sects == 0 {
		sects = 4
	}
	start := (sects+1)*512 + int(binary.LittleEndian.Uint32(data[0x248:]))
	length := int(binary.LittleEndian.Uint32(data[0x24c:]))
	if start < 0 || length < 4 || start > len(data) || length > len(data)-start {
		return Payload{}, false
	}
	p := Payload{Offset: start, End: start + length - 4, Method: methodAt(data[start:]), BzImage: true}
	if kv := int(binary.LittleEndian.Uint16(data[0x20e:])); kv != 0 && 0x200+kv < len(data) {
		p.Release = releaseWord(data[0x200+kv:])
	}
	return p, true
}

// kernel decompresses the payload and reads the kernel in it.
func (p Payload) kernel(image []byte) (*Kernel, error) {
	if p.Method == "" {
		return nil, fmt.Errorf("bzImage payload with an unknown compression (starts % x): %w", image[p.Offset:min(p.Offset+6, p.End)], ErrFormat)
	}
	out, err := Decompress(p.Method, image[p.Offset:p.End])
	if err != nil {
		return nil, err
	}
	kind := "Image"
	if p.BzImage {
		kind = "bzImage"
	}
	var k *Kernel
	if bytes.HasPrefix(out, []byte("\x7fELF")) {
		if k, err = readELF(bytes.NewReader(out), int64(len(out))); err != nil {
			return nil, fmt.Errorf("the vmlinux in the %s (%s): %w", kind, p.Method, err)
		}
	} else if k, err = imageKernel(out, "the "+kind+" payload ("+p.Method+")", ""); err != nil {
		return nil, err
	}
	if p.BzImage {
		if k.Arch == "" {
			k.Arch = "x86_64"
		}
		if p.Release != "" {
			k.Release = p.Release
		}
	}
	k.Format = fmt.Sprintf("%s (%s)", kind, p.Method)
	return k, nil
}

// imageKernel reads a raw kernel Image (no ELF): the BTF blob in it, the
// banner's release, the architecture from its header. what names it in
// errors; format is Kernel.Format ("" to leave it to the caller).
func imageKernel(data []byte, what, format string) (*Kernel, error) {
	k := &Kernel{Arch: imageArch(data), BTF: findBTF(data), Release: bannerRelease(data), Format: format}
	if k.BTF == nil {
		is := "a raw kernel Image"
		if k.Arch != "" {
			is = "an " + k.Arch + " Image"
		}
		return nil, fmt.Errorf("%s is %s, not an ELF, and no BTF blob was found in it: %w", what, is, ErrNoBTF)
	}
	return k, nil
}

// imageArch reads the magic of an arm64 or RISC-V Image header (offset 0x38).
func imageArch(data []byte) string {
	if len(data) < 0x40 {
		return ""
	}
	switch string(data[0x38:0x3c]) {
	case "ARM\x64":
		return "arm64"
	case "RSC\x05":
		return "riscv64"
	}
	return ""
}

// findBTF finds the kernel's BTF blob in a raw Image: a little- or
// big-endian BTF header of 24 bytes whose type and string sections fit,
// and that cilium/ebpf's btf package reads.
func findBTF(data []byte) []byte {
	headers := [][]byte{
		{0x9f, 0xeb, 0x01, 0x00, 0x18, 0x00, 0x00, 0x00},
		{0xeb, 0x9f, 0x01, 0x00, 0x00, 0x00, 0x00, 0x18},
	}
	for _, hdr := range headers {
		var bo binary.ByteOrder = binary.LittleEndian
		if hdr[0] == 0xeb {
			bo = binary.BigEndian
		}
		for off := 0; off < len(data); {
			i := bytes.Index(data[off:], hdr)
			if i < 0 {
				break
			}
			at := off + i
			off = at + 1
			if at+24 > len(data) {
				break
			}
			h := data[at : at+24]
			typeOff, typeLen := uint64(bo.Uint32(h[8:])), uint64(bo.Uint32(h[12:]))
			strOff, strLen := uint64(bo.Uint32(h[16:])), uint64(bo.Uint32(h[20:]))
			end := 24 + max(typeOff+typeLen, strOff+strLen)
			if typeLen == 0 || strLen == 0 || end > uint64(len(data)-at) || end > MaxBTFSize {
				continue
			}
			blob := data[at : at+int(end)]
			if _, err := btf.LoadSpecFromReader(bytes.NewReader(blob)); err == nil {
				return blob
			}
		}
	}
	return nil
}

// maxDict bounds the dictionary an xz or lzma header may ask for: the
// kernel's build uses 32 MiB (xz) and 64 MiB (lzma -9); a header asking for
// more is refused before anything is allocated.
const maxDict = 64 << 20

func dictCap() int { return int(min(maxDict, max(maxDecompressed, 1<<20))) }

// Decompress inflates data compressed with method (gzip, xz, zstd, lz4,
// bzip2, lzma), up to MaxDecompressed bytes. Data after the first stream
// is ignored (kernel images append the uncompressed size).
func Decompress(method string, data []byte) ([]byte, error) {
	in := bytes.NewReader(data)
	var r io.Reader
	var err error
	switch method {
	case "gzip":
		var z *gzip.Reader
		if z, err = gzip.NewReader(in); err == nil {
			z.Multistream(false)
			r = z
		}
	case "xz":
		r, err = xz.ReaderConfig{SingleStream: true, DictCap: dictCap()}.NewReader(in)
	case "zstd":
		var z *zstd.Decoder
		if z, err = zstd.NewReader(in, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(maxDecompressed)+1)); err == nil {
			defer z.Close()
			r = z
		}
	case "lz4":
		r = lz4.NewReader(in)
	case "bzip2":
		r = bzip2.NewReader(in)
	case "lzma":
		r, err = lzma.ReaderConfig{DictCap: dictCap()}.NewReader(in)
	default:
		return nil, fmt.Errorf("unknown compression %q: %w", method, ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", method, err, ErrFormat)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil && !(method == "zstd" && errors.Is(err, zstd.ErrMagicMismatch) && len(out) > 0) {
		return nil, fmt.Errorf("decompress %s: %v: %w", method, err, ErrFormat)
	}
	if int64(len(out)) > maxDecompressed {
		return nil, fmt.Errorf("the %s payload inflates past %d bytes: %w", method, maxDecompressed, ErrFormat)
	}
	return out, nil
}

// findKernel reads the kernel of a boot image: the first payload that holds a
// kernel with BTF wins; else the first error, or ErrFormat when there is
// no payload at all.
func findKernel(data []byte) (*Kernel, error) {
	var first error
	for _, p := range FindPayloads(data) {
		k, err := p.kernel(data)
		if err == nil {
			return k, nil
		}
		if first == nil || (errors.Is(err, ErrNoBTF) && !errors.Is(first, ErrNoBTF)) {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("no raw BTF, ELF, bzImage header or compressed payload found: %w", ErrFormat)
	}
	return nil, first
}
