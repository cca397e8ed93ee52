// Package kimage reads what ecc needs from a kernel image: its BTF (the
// types CO-RE relocates against), its release (what `uname -r` prints on
// it) and its architecture.
//
// A kernel is given as raw BTF (/sys/kernel/btf/vmlinux, a .btf file), as
// a vmlinux ELF (its .BTF section), as a Debian or Ubuntu linux-image-*.deb
// (its boot/vmlinuz-*, read in Go), or as a boot image: an x86 bzImage
// (the setup header says where the compressed vmlinux is) or a compressed
// Image (arm64's vmlinuz is a gzip of one), decompressed here in Go. An
// Image is not an ELF, but the kernel keeps its BTF in memory for
// /sys/kernel/btf/vmlinux, so the blob is in the Image and is found by its
// header.
package kimage

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/ecc-bpf/ecc/internal/debpkg"
)

// Size caps. A vmlinuz is 10–40 MB, the vmlinux in it 30–100 MB; a
// vmlinux with debug info can pass 1 GB, but then only its .BTF section
// (5–10 MB) is read.
const (
	// MaxImageSize caps a boot image or raw BTF file read whole.
	MaxImageSize = 256 << 20
	// MaxDecompressed caps what a compressed payload may inflate to.
	MaxDecompressed = 1 << 30
	// MaxBTFSize caps a kernel's BTF.
	MaxBTFSize = 256 << 20
)

// SysfsBTF is where a running kernel exposes its BTF.
const SysfsBTF = "/sys/kernel/btf/vmlinux"

// ErrNoBTF is wrapped when an image was read but holds no BTF (a kernel
// built without CONFIG_DEBUG_INFO_BTF, or an Image whose BTF blob is not
// where ecc looks).
var ErrNoBTF = errors.New("no BTF in the kernel image")

// ErrFormat is wrapped when a file is none of the kinds Read knows.
var ErrFormat = errors.New("not a kernel image, vmlinux or BTF file")

// Kernel is what an image tells about its kernel.
type Kernel struct {
	// BTF is the kernel's raw BTF, as /sys/kernel/btf/vmlinux holds it.
	BTF []byte
	// Release is the kernel's `uname -r`, "" when the image does not
	// say (raw BTF other than the running kernel's).
	Release string
	// Arch is the kernel's architecture in ecc's spelling (x86_64,
	// arm64, ...), "" when unknown.
	Arch string
	// Format says how the BTF was found: "raw BTF", "ELF",
	// "bzImage (lz4)", "Image (gzip)", ...
	Format string
}

// Read reads the kernel image at path. The running kernel's
// /sys/kernel/btf/vmlinux gets this host's release. Errors say what is
// wrong with the file, not its name (but os.Open's): callers name it as
// the user gave it.
func Read(path string) (*Kernel, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("a directory: %w", ErrFormat)
	}
	var magic [len(debpkg.Magic)]byte
	n, _ := io.ReadFull(f, magic[:])
	switch {
	case n >= 4 && bytes.Equal(magic[:4], []byte(elf.ELFMAG)):
		return readELF(f, st.Size())
	case debpkg.IsDeb(magic[:n]):
		return readDeb(f)
	}
	data, err := readCapped(io.NewSectionReader(f, 0, MaxImageSize+1))
	if err != nil {
		return nil, err
	}
	k, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if k.Format == "raw BTF" && isSysfs(path) {
		if k.Release, err = HostRelease(); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// readCapped reads r whole, up to MaxImageSize bytes.
func readCapped(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxImageSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxImageSize {
		return nil, fmt.Errorf("larger than %d bytes: %w", MaxImageSize, ErrFormat)
	}
	return data, nil
}

// readDeb reads the boot/vmlinuz-* of a kernel package.
func readDeb(f io.ReadSeeker) (*Kernel, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var k *Kernel
	err := debpkg.Vmlinuz(f, func(base string, body io.Reader) error {
		data, err := readCapped(body)
		if err == nil {
			k, err = Parse(data)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	k.Format = "linux-image .deb, " + k.Format
	return k, nil
}

func isSysfs(path string) bool {
	abs, err := filepath.Abs(path)
	return err == nil && filepath.Clean(abs) == SysfsBTF
}

// HostRelease is the running kernel's release, what `uname -r` prints.
func HostRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// Parse reads a kernel image held in memory: raw BTF, a vmlinux ELF or a
// boot image.
func Parse(data []byte) (*Kernel, error) {
	switch {
	case isRawBTF(data):
		if len(data) > MaxBTFSize {
			return nil, fmt.Errorf("BTF of %d bytes, more than %d: %w", len(data), MaxBTFSize, ErrFormat)
		}
		spec, err := btf.LoadSpecFromReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("raw BTF: %v: %w", err, ErrFormat)
		}
		return &Kernel{BTF: data, Arch: archFromBTF(spec), Format: "raw BTF"}, nil
	case bytes.HasPrefix(data, []byte(elf.ELFMAG)):
		return readELF(bytes.NewReader(data), int64(len(data)))
	case imageArch(data) != "":
		// An uncompressed Image (Debian's arm64 vmlinuz is one).
		return imageKernel(data, "the file", "Image")
	}
	return findKernel(data)
}

// readELF reads a vmlinux of size bytes: its .BTF section, its machine,
// and the release from the "Linux version" banner in its read-only data.
// Sections are read only when they lie within the file.
func readELF(r io.ReaderAt, size int64) (*Kernel, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("ELF: %v: %w", err, ErrFormat)
	}
	k := &Kernel{Arch: ELFArch(f), Format: "ELF"}
	sec := f.Section(".BTF")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("ELF without a .BTF section (a kernel built without CONFIG_DEBUG_INFO_BTF?): %w", ErrNoBTF)
	}
	if sec.Size > MaxBTFSize || !within(sec, size) {
		return nil, fmt.Errorf(".BTF section of %d bytes at %d, more than %d or past the end of the file: %w", sec.Size, sec.Offset, MaxBTFSize, ErrFormat)
	}
	if k.BTF, err = sec.Data(); err != nil {
		return nil, fmt.Errorf("read .BTF: %v: %w", err, ErrFormat)
	}
	if !isRawBTF(k.BTF) {
		return nil, fmt.Errorf(".BTF section does not start with a BTF header: %w", ErrNoBTF)
	}
	for _, name := range []string{".rodata", ".data"} {
		s := f.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS || !within(s, size) {
			continue
		}
		if d, err := s.Data(); err == nil {
			if k.Release = bannerRelease(d); k.Release != "" {
				break
			}
		}
	}
	return k, nil
}

// within reports whether a section's bytes lie inside a file of size bytes.
func within(s *elf.Section, size int64) bool {
	return s.Offset <= uint64(size) && s.Size <= uint64(size)-s.Offset
}

// ELFArch is the architecture of an ELF file's machine in ecc's spelling
// (x86_64, arm64, ...), "" for others.
func ELFArch(f *elf.File) string {
	switch f.Machine {
	case elf.EM_X86_64:
		return "x86_64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_RISCV:
		return "riscv64"
	case elf.EM_S390:
		return "s390x"
	case elf.EM_PPC64:
		if f.ByteOrder == binary.LittleEndian {
			return "ppc64le"
		}
	case elf.EM_LOONGARCH:
		return "loongarch64"
	case elf.EM_ARM:
		return "arm"
	}
	return ""
}

// btfMagic is the first two bytes of BTF, 0xeB9F in the writer's order.
const btfMagic = 0xeB9F

// isRawBTF reports whether data starts with a BTF header (either order).
func isRawBTF(data []byte) bool {
	return len(data) >= 24 && (binary.LittleEndian.Uint16(data) == btfMagic || binary.BigEndian.Uint16(data) == btfMagic) && data[2] == 1
}

// archFromBTF tells the architecture from types only one architecture's
// kernel has: the members of struct pt_regs, arm64's user_pt_regs.
func archFromBTF(spec *btf.Spec) string {
	member := func(typ, name string) bool {
		var s *btf.Struct
		if spec.TypeByName(typ, &s) != nil {
			return false
		}
		for _, m := range s.Members {
			if m.Name == name {
				return true
			}
		}
		return false
	}
	switch {
	case member("pt_regs", "r15"):
		return "x86_64"
	case member("user_pt_regs", "pstate"):
		return "arm64"
	case member("pt_regs", "epc"):
		return "riscv64"
	case member("pt_regs", "psw"):
		return "s390x"
	case member("pt_regs", "csr_era"):
		return "loongarch64"
	case member("pt_regs", "nip"):
		return "ppc64le"
	}
	return ""
}

// bannerRelease finds the release in the kernel's banner, "Linux version
// RELEASE (builder) ...": the first such string whose release starts with
// a digit and is followed by a space.
func bannerRelease(data []byte) string {
	r, _, _ := strings.Cut(bannerVersion(data), " ")
	return r
}

// bannerVersion is the rest of that banner's line: "RELEASE (builder)
// ... #1 SMP ...", at most 256 bytes.
func bannerVersion(data []byte) string {
	const banner = "Linux version "
	for rest := data; ; {
		i := bytes.Index(rest, []byte(banner))
		if i < 0 {
			return ""
		}
		rest = rest[i+len(banner):]
		if releaseWord(rest) != "" {
			return cString(rest, "\n\x00")
		}
	}
}

// cString is b up to the first of the bytes in end, at most 256 bytes.
func cString(b []byte, end string) string {
	b = b[:min(len(b), 256)]
	if i := bytes.IndexAny(b, end); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// releaseWord returns the release at the start of b (up to a space), or ""
// when what is there does not look like one.
func releaseWord(b []byte) string {
	end := bytes.IndexByte(b, ' ')
	if end <= 0 || end > 64 || b[0] < '0' || b[0] > '9' {
		return ""
	}
	for _, c := range b[:end] {
		if c <= ' ' || c >= 0x7f || c == '%' {
			return ""
		}
	}
	return string(b[:end])
}

// Interp is the program interpreter a dynamically linked ELF executable
// names (e.g. /lib64/ld-linux-x86-64.so.2), "" for a static one. A
// PT_INTERP that cannot be read is reported as "an interpreter".
func Interp(f *elf.File) string {
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p.Open(), 256))
		if s := strings.TrimRight(string(b), "\x00"); err == nil && s != "" {
			return s
		}
		return "an interpreter"
	}
	return ""
}
