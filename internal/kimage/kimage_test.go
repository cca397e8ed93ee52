package kimage

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"github.com/ecc-bpf/ecc/internal/debpkg"
	"github.com/ecc-bpf/ecc/internal/debpkg/debtest"
	"github.com/ecc-bpf/ecc/internal/testenv"
)

// object is a small ELF with a .BTF section (a committed BPF object),
// standing in for a vmlinux.
func object(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("../../packager/extract/testdata/events.bpf.o")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func btfSection(t testing.TB, obj []byte) []byte {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.Section(".BTF").Data()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func compress(t testing.TB, method string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch method {
	case "gzip":
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
	case "xz":
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case "zstd":
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case "lz4":
		w := lz4.NewWriter(&b)
		if err := w.Apply(lz4.LegacyOption(true)); err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case "lzma":
		w, err := lzma.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case "bzip2":
		cmd := exec.Command(testenv.Tool(t, "bzip2"), "-c")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	default:
		t.Fatalf("no compressor %s", method)
	}
	return b.Bytes()
}

// bzImage lays out an x86 boot image: a setup header naming the payload
// and the kernel_version string, the payload and the 4-byte size the
// kernel's build appends.
func bzImage(payload []byte, size int, version string) []byte {
	const sects = 3
	img := make([]byte, (sects+1)*512+64)
	img[0x1f1] = sects
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x206:], 0x20f)
	binary.LittleEndian.PutUint16(img[0x20e:], 0x300-0x200)
	copy(img[0x300:], version+"\x00")
	binary.LittleEndian.PutUint32(img[0x248:], 64)
	binary.LittleEndian.PutUint32(img[0x24c:], uint32(len(payload)+4))
	img = append(img, payload...)
	return binary.LittleEndian.AppendUint32(img, uint32(size))
}

func TestBzImageEveryCompression(t *testing.T) {
	obj := object(t)
	want := btfSection(t, obj)
	for _, m := range []string{"gzip", "xz", "zstd", "lz4", "bzip2", "lzma"} {
		t.Run(m, func(t *testing.T) {
			img := bzImage(compress(t, m, obj), len(obj), "6.1.0-99-test (builder@example.org) #1 SMP")
			k, err := Parse(img)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.BTF, want) {
				t.Errorf("BTF differs from the object's .BTF (%d vs %d bytes)", len(k.BTF), len(want))
			}
			if k.Release != "6.1.0-99-test" || k.Arch != "x86_64" || k.Format != "bzImage ("+m+")" {
				t.Errorf("got release %q arch %q format %q", k.Release, k.Arch, k.Format)
			}
		})
	}
}

// An arm64 vmlinuz is a gzip of an Image: no ELF, but the BTF blob and the
// banner are in it.
func TestCompressedImage(t *testing.T) {
	raw := btfSection(t, object(t))
	img := make([]byte, 0x40)
	copy(img[0x38:], "ARM\x64")
	img = append(img, bytes.Repeat([]byte{0xaa}, 1000)...)
	img = append(img, raw...)
	img = append(img, "\x00Linux version %s\x00Linux version 6.1.0-57-cloud-arm64 (debian-kernel@lists.debian.org) #1 SMP\n\x00"...)
	k, err := Parse(compress(t, "gzip", img))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.BTF, raw) || k.Arch != "arm64" || k.Release != "6.1.0-57-cloud-arm64" || k.Format != "Image (gzip)" {
		t.Errorf("got %d bytes of BTF, arch %q, release %q, format %q", len(k.BTF), k.Arch, k.Release, k.Format)
	}

	// Without the blob: ErrNoBTF, saying it is an arm64 Image.
	noBTF := append(img[:0x40:0x40], bytes.Repeat([]byte{0}, 4096)...)
	_, err = Parse(compress(t, "gzip", noBTF))
	if !errors.Is(err, ErrNoBTF) || !strings.Contains(err.Error(), "arm64 Image") {
		t.Errorf("got %v, want ErrNoBTF naming an arm64 Image", err)
	}
}

func TestRawBTFAndELF(t *testing.T) {
	obj := object(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.btf"), btfSection(t, obj), 0o644)
	os.WriteFile(filepath.Join(dir, "x.o"), obj, 0o644)
	k, err := Read(filepath.Join(dir, "x.btf"))
	if err != nil || k.Format != "raw BTF" || k.Release != "" {
		t.Fatalf("raw BTF: %+v, %v", k, err)
	}
	k, err = Read(filepath.Join(dir, "x.o"))
	if err != nil || k.Format != "ELF" || !bytes.Equal(k.BTF, btfSection(t, obj)) {
		t.Fatalf("ELF: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello, not a kernel"), 0o644)
	if _, err := Read(filepath.Join(dir, "notes.txt")); !errors.Is(err, ErrFormat) {
		t.Errorf("a text file: %v, want ErrFormat", err)
	}
	if _, err := Read(dir); !errors.Is(err, ErrFormat) {
		t.Errorf("a folder: %v", err)
	}
}

func TestHostBTF(t *testing.T) {
	if _, err := os.Stat(SysfsBTF); err != nil {
		testenv.Missing(t, "no %s", SysfsBTF)
	}
	k, err := Read(SysfsBTF)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := HostRelease()
	want := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
	if k.Release != rel || k.Arch != want || k.Format != "raw BTF" {
		t.Errorf("got release %q arch %q format %q, want %q %q", k.Release, k.Arch, k.Format, rel, want)
	}
}

// Debian's 6.1 cloud kernel: a bzImage whose payload is an lz4 vmlinux.
func TestDebianVmlinuz(t *testing.T) {
	path := testenv.DebianVmlinuz(t)
	k, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := testenv.DebianRelease(path); k.Release != want {
		t.Errorf("release %q, want %q", k.Release, want)
	}
	if k.Arch != "x86_64" || !strings.HasPrefix(k.Format, "bzImage (") {
		t.Errorf("arch %q, format %q", k.Arch, k.Format)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(k.BTF))
	if err != nil {
		t.Fatal(err)
	}
	var ts *btf.Struct
	if err := spec.TypeByName("task_struct", &ts); err != nil || ts.Size < 1000 {
		t.Errorf("task_struct: %v", err)
	}

	// What an arm64 Image needs: the BTF blob found by its header in the
	// kernel's bytes, ELF structure ignored, is the .BTF section.
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := FindPayloads(img)
	if len(p) != 1 || !p[0].BzImage {
		t.Fatalf("payloads %+v", p)
	}
	vmlinux, err := Decompress(p[0].Method, img[p[0].Offset:p[0].End])
	if err != nil {
		t.Fatal(err)
	}
	if blob := findBTF(vmlinux); !bytes.Equal(blob, k.BTF) {
		t.Errorf("the BTF blob found in the vmlinux's bytes (%d bytes) is not its .BTF (%d bytes)", len(blob), len(k.BTF))
	}
	if r := bannerRelease(vmlinux); r != k.Release {
		t.Errorf("banner release %q, header release %q", r, k.Release)
	}
}

// A linux-image-*.deb: its boot/vmlinuz-* is read (data.tar compressed
// or not); a package without one, and one whose vmlinuz is no kernel, say
// so.
func TestDeb(t *testing.T) {
	obj := object(t)
	img := bzImage(compress(t, "gzip", obj), len(obj), "6.1.0-99-test (builder@example.org) #1 SMP")
	dir := t.TempDir()
	for _, ext := range []string{".xz", ".zst", ""} {
		p := filepath.Join(dir, "linux-image-6.1.0-99-test_1_amd64.deb"+ext)
		os.WriteFile(p, debtest.Build(t, ext, map[string][]byte{"./usr/share/doc/x/copyright": []byte("x"), "./boot/vmlinuz-6.1.0-99-test": img}), 0o644)
		k, err := Read(p)
		if err != nil {
			t.Fatalf("data.tar%s: %v", ext, err)
		}
		if !bytes.Equal(k.BTF, btfSection(t, obj)) || k.Release != "6.1.0-99-test" || k.Arch != "x86_64" || k.Format != "linux-image .deb, bzImage (gzip)" {
			t.Errorf("data.tar%s: %d bytes of BTF, release %q, arch %q, format %q", ext, len(k.BTF), k.Release, k.Arch, k.Format)
		}
	}
	meta := filepath.Join(dir, "linux-image-cloud-amd64_1_amd64.deb")
	os.WriteFile(meta, debtest.Build(t, ".xz", map[string][]byte{"./usr/share/doc/x/copyright": []byte("x")}), 0o644)
	if _, err := Read(meta); !errors.Is(err, debpkg.ErrNoVmlinuz) {
		t.Errorf("meta package: %v, want ErrNoVmlinuz", err)
	}
	bad := filepath.Join(dir, "bad.deb")
	os.WriteFile(bad, debtest.Build(t, ".xz", map[string][]byte{"./boot/vmlinuz-6.1.0-99-test": []byte("not a kernel")}), 0o644)
	if _, err := Read(bad); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "vmlinuz-6.1.0-99-test") {
		t.Errorf("package of no kernel: %v, want ErrFormat naming its vmlinuz", err)
	}
}

// Debian's 6.1 cloud kernel package gives the BTF, release and
// architecture its vmlinux gives.
func TestDebianDeb(t *testing.T) {
	want, err := Read(testenv.DebianVmlinuz(t))
	if err != nil {
		t.Fatal(err)
	}
	k, err := Read(testenv.KernelDeb(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.BTF, want.BTF) || k.Release != want.Release || k.Arch != want.Arch || k.Format != "linux-image .deb, "+want.Format {
		t.Errorf("from the .deb: %d bytes of BTF, release %q, arch %q, format %q; from its vmlinuz: %d bytes, %q, %q, %q",
			len(k.BTF), k.Release, k.Arch, k.Format, len(want.BTF), want.Release, want.Arch, want.Format)
	}
}

// Debian's arm64 vmlinuz is an uncompressed Image: no ELF, the BTF blob
// found in it by its header.
func TestDebianArm64Image(t *testing.T) {
	path := testenv.DebianArm64Vmlinuz(t)
	k, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if k.Release != testenv.DebianRelease(path) || k.Arch != "arm64" || k.Format != "Image" {
		t.Errorf("release %q arch %q format %q", k.Release, k.Arch, k.Format)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := ParseBoot(data); err != nil || b.Arch != "arm64" || b.Release() != k.Release || b.Format != "Image" || !strings.Contains(b.Version, "SMP Debian") {
		t.Errorf("ParseBoot: %+v, %v", b, err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(k.BTF))
	if err != nil {
		t.Fatal(err)
	}
	var regs *btf.Struct
	if err := spec.TypeByName("user_pt_regs", &regs); err != nil {
		t.Errorf("no arm64 struct user_pt_regs in its BTF: %v", err)
	}
}

// ParseBoot tells the machine from the image without looking for BTF: a
// bzImage is x86_64 with the header's version, an arm64 Image (plain or
// gzip-compressed) has its banner's; anything else is ErrNotBoot.
func TestParseBoot(t *testing.T) {
	const banner = "6.1.0-57-cloud-arm64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP Debian 6.1.192-3"
	img := make([]byte, 0x40)
	copy(img[0x38:], "ARM\x64")
	img = append(img, "\x00Linux version %s\x00Linux version "+banner+"\n\x00"...)
	for _, c := range []struct {
		name              string
		data              []byte
		arch, rel, format string
	}{
		{"bzImage", bzImage(nil, 0, "6.1.0-99-test (builder@example.org) #1 SMP"), "x86_64", "6.1.0-99-test", "bzImage"},
		{"Image", img, "arm64", "6.1.0-57-cloud-arm64", "Image"},
		{"Image.gz", compress(t, "gzip", img), "arm64", "6.1.0-57-cloud-arm64", "Image (gzip)"},
	} {
		b, err := ParseBoot(c.data)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if b.Arch != c.arch || b.Release() != c.rel || b.Format != c.format {
			t.Errorf("%s: %+v, release %q", c.name, b, b.Release())
		}
	}
	if b, _ := ParseBoot(img); b.Version != banner {
		t.Errorf("version %q, want the banner's line", b.Version)
	}
	for name, data := range map[string][]byte{"text": []byte("hello"), "gzip of text": compress(t, "gzip", []byte("hello")), "empty": nil} {
		if _, err := ParseBoot(data); !errors.Is(err, ErrNotBoot) {
			t.Errorf("%s: %v, want ErrNotBoot", name, err)
		}
	}
	if _, err := ParseBoot(compress(t, "gzip", img)[:30]); err == nil {
		t.Error("a cut gzip stream passes")
	}
}

// FuzzParse feeds Parse arbitrary images: it returns an error or a kernel,
// never panics, and never inflates past its cap.
func FuzzParse(f *testing.F) {
	obj := object(f)
	raw := btfSection(f, obj)
	f.Add(raw)
	f.Add(obj)
	f.Add(bzImage(compress(f, "gzip", obj), len(obj), "6.1.0 #1"))
	f.Add(bzImage(compress(f, "lz4", obj), len(obj), "6.1.0 #1"))
	f.Add(compress(f, "xz", raw))
	f.Add(compress(f, "zstd", raw))
	f.Add([]byte("\x5d\x00\x00\x80\x00"))
	maxDecompressed = 1 << 20
	f.Cleanup(func() { maxDecompressed = MaxDecompressed })
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Parse(data)
		if err == nil && len(k.BTF) == 0 {
			t.Fatal("a kernel without BTF and no error")
		}
		for _, p := range FindPayloads(data) {
			if p.Offset < 0 || p.End > len(data) || p.Offset > p.End {
				t.Fatalf("payload %+v out of %d bytes", p, len(data))
			}
		}
	})
}

// Interp names a dynamic executable's interpreter and nothing for a
// static one (the test binary is static or not as Go built it; /bin/true
// is dynamic on Debian).
func TestInterp(t *testing.T) {
	f, err := elf.Open("/bin/true")
	if err != nil {
		t.Skipf("no /bin/true: %v", err)
	}
	defer f.Close()
	if got := Interp(f); !strings.Contains(got, "ld-linux") {
		t.Errorf("Interp(/bin/true) = %q, want the dynamic loader", got)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	dynamic := false
	for _, p := range self.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	if got := Interp(self); (got != "") != dynamic {
		t.Errorf("Interp(test binary) = %q, PT_INTERP present: %v", got, dynamic)
	}
}
