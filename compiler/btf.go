package compiler

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ecc-bpf/ecc/compiler/vmlinux"
	"github.com/ecc-bpf/ecc/internal/kimage"
	"github.com/ecc-bpf/ecc/packager"
)

// ErrBTF wraps every failure to read or use a BTF file.
var ErrBTF = errors.New("unusable BTF")

type btfInfo struct {
	path   string
	digest string
	// dir holds the vmlinux.h generated from this BTF.
	dir string
	// foreign: the host's BTF stands in for another architecture's.
	foreign bool
}

// btf returns the BTF for an architecture and makes sure its vmlinux.h exists.
func (b *builder) btf(a Arch) (*btfInfo, error) {
	path, explicit := b.o.BTF[a.Name]
	if !explicit {
		path, explicit = b.o.BTF[""]
	}
	explicit = explicit && path != ""
	if !explicit {
		path = DefaultBTF
		if a.Name != HostArch().Name {
			fmt.Fprintf(b.notes, "ecc: note: no --btf for %s, so its vmlinux.h comes from this %s host's kernel (%s). "+
				"CO-RE fixes field offsets at load time, and ecc declares arm64's struct user_pt_regs for the PT_REGS_* macros, "+
				"but other arch-specific types are the host's; pass --btf %s=FILE with the target kernel's BTF for programs that use them.\n", a.Name, HostArch().Name, path, a.Name)
		}
	}
	foreign := !explicit && a.Name != HostArch().Name
	key := fmt.Sprintf("%s|%v", path, foreign)
	if bi, ok := b.btfCache[key]; ok {
		return bi, nil
	}
	bi, err := VmlinuxHeader(path, b.o.CacheDir)
	if err != nil {
		return nil, err
	}
	c := *bi
	c.foreign = foreign
	b.btfCache[key] = &c
	return &c, nil
}

// VmlinuxHeader returns the folder holding vmlinux.h for the BTF at path,
// generating it on first use. Headers are cached by the BTF's SHA-256 and
// the generator's vmlinux.FormatVersion.
func VmlinuxHeader(path, cacheDir string) (*btfInfo, error) {
	// The digest of an unchanged BTF file is remembered by the file's
	// identity, so that cached builds need not read and hash megabytes.
	var data []byte
	idFile := ""
	digest := ""
	if id := btfIdentity(path); id != "" {
		sum := sha256.Sum256([]byte(id))
		idFile = filepath.Join(cacheDir, "btf", hex.EncodeToString(sum[:16]))
		if b, err := os.ReadFile(idFile); err == nil && len(b) == 64 {
			digest = string(b)
		}
	}
	if digest == "" {
		var err error
		if data, err = readBTF(path); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		digest = hex.EncodeToString(sum[:])
	}
	// Headers written by an older generator are not reused.
	dir := filepath.Join(cacheDir, "vmlinux", digest[:16]+"-v"+vmlinux.FormatVersion)
	header := filepath.Join(dir, "vmlinux.h")
	info := &btfInfo{path: path, digest: digest, dir: dir}
	if _, err := os.Stat(header); err == nil {
		if idFile != "" && data != nil {
			os.MkdirAll(filepath.Dir(idFile), 0o755)
			packager.WriteFileAtomic(idFile, []byte(digest), 0o644)
		}
		return info, nil
	}
	if data == nil {
		var err error
		if data, err = readBTF(path); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := writeVmlinux(header, path, data); err != nil {
		return nil, err
	}
	if idFile != "" {
		os.MkdirAll(filepath.Dir(idFile), 0o755)
		packager.WriteFileAtomic(idFile, []byte(digest), 0o644)
	}
	return info, nil
}

// btfIdentity names a BTF file's content without reading it: the boot for
// the kernel's own BTF in sysfs (it cannot change while the kernel runs),
// else path, inode, size and modification time. "" when unknown.
func btfIdentity(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	st, err := os.Stat(abs)
	if err != nil || !st.Mode().IsRegular() {
		return ""
	}
	if strings.HasPrefix(abs, "/sys/kernel/btf/") {
		boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
		if err != nil {
			return ""
		}
		return fmt.Sprintf("sysfs|%s|%d|%s", abs, st.Size(), strings.TrimSpace(string(boot)))
	}
	var ino uint64
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		ino = sys.Ino
	}
	return fmt.Sprintf("file|%s|%d|%d|%d", abs, ino, st.Size(), st.ModTime().UnixNano())
}

// GenerateVmlinux writes the vmlinux.h for the BTF at path to w.
func GenerateVmlinux(w io.Writer, path string) error {
	data, err := readBTF(path)
	if err != nil {
		return err
	}
	if err := vmlinux.WriteFromReader(w, bytes.NewReader(data), nil); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBTF, path, err)
	}
	return nil
}

// GenerateVmlinuxFile writes the vmlinux.h for the BTF at btfPath to out,
// atomically (no partial file on error).
func GenerateVmlinuxFile(out, btfPath string) error {
	data, err := readBTF(btfPath)
	if err != nil {
		return err
	}
	return writeVmlinux(out, btfPath, data)
}

// writeVmlinux generates vmlinux.h from BTF data into dst through a
// temporary file, so that a failure leaves nothing behind.
func writeVmlinux(dst, btfPath string, data []byte) error {
	var buf bytes.Buffer
	buf.Grow(4 << 20)
	if err := vmlinux.WriteFromReader(&buf, bytes.NewReader(data), nil); err != nil {
		return fmt.Errorf("%w: %s: %w; pass --btf with a kernel's BTF (raw, as in /sys/kernel/btf/vmlinux, or an ELF vmlinux)", ErrBTF, btfPath, err)
	}
	return packager.WriteFileAtomic(dst, buf.Bytes(), 0o644)
}

func readBTF(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		if path == DefaultBTF {
			return nil, fmt.Errorf("%w: this kernel exposes no BTF at %s (CONFIG_DEBUG_INFO_BTF off?); pass --btf FILE with the kernel's BTF", ErrBTF, path)
		}
		return nil, fmt.Errorf("%w: %w; check the --btf path", ErrBTF, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory; --btf takes a BTF file", ErrBTF, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrBTF, path, err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrBTF, path)
	}
	if !bytes.HasPrefix(data, []byte("\x7fELF")) && !bytes.HasPrefix(data, []byte{0x9f, 0xeb}) && !bytes.HasPrefix(data, []byte{0xeb, 0x9f}) {
		// A vmlinuz: its vmlinux's BTF.
		k, err := kimage.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w; pass --btf with a kernel's BTF (raw, as in /sys/kernel/btf/vmlinux, an ELF vmlinux or a vmlinuz)", ErrBTF, path, err)
		}
		data = k.BTF
	}
	return data, nil
}
