package kernel

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/debpkg/debtest"
	"github.com/ecc-bpf/ecc/registry/registrytest"
	"github.com/ecc-bpf/ecc/vm/kernel/kerneltest"
	"github.com/ulikunitz/xz"
)

const testVersion = "6.1.0-99-test-amd64 (someone@example.org) #1 SMP Debian 6.1.999-1"

// bzImage is the start of an x86 kernel image: the boot header's "HdrS"
// magic and a version string.
func bzImage(version string) []byte {
	b := make([]byte, 0x1000)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x20e:], 0x400-0x200)
	copy(b[0x400:], version+"\x00")
	return b
}

// deb builds a .deb: debian-binary, control.tar.xz, data.tar+ext holding
// files.
func deb(t *testing.T, ext string, files map[string][]byte) []byte {
	return debtest.Build(t, ext, files)
}

func TestOpenBzImage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vmlinuz")
	os.WriteFile(path, bzImage(testVersion), 0o644)
	im, err := Open(context.Background(), path, &OpenOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if im.Path != path || im.Name != path || im.Version != testVersion || im.Release() != "6.1.0-99-test-amd64" {
		t.Errorf("%+v, release %q", im, im.Release())
	}
}

// arm64Image is the start of an arm64 Image: its header's magic and the
// kernel's banner.
func arm64Image(release string) []byte {
	b := make([]byte, 0x1000)
	copy(b[0x38:], "ARM\x64")
	copy(b[0x800:], "Linux version "+release+" (someone@example.org) #1 SMP\n\x00")
	return b
}

// An arm64 Image, plain or gzip-compressed, and the one in an arm64
// package, are kernels of that architecture.
func TestOpenArm64(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	img := arm64Image("6.1.0-99-test-arm64")
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(img)
	w.Close()
	files := map[string][]byte{
		"Image":    img,
		"Image.gz": gz.Bytes(),
		"linux-image-6.1.0-99-test-arm64_6.1.999-1_arm64.deb": deb(t, ".xz", map[string][]byte{"./boot/vmlinuz-6.1.0-99-test-arm64": img}),
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		os.WriteFile(path, data, 0o644)
		im, err := Open(context.Background(), path, &OpenOptions{CacheDir: cache})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if im.Arch != "arm64" || im.Release() != "6.1.0-99-test-arm64" {
			t.Errorf("%s: %+v", name, im)
		}
	}
	path := filepath.Join(dir, "vmlinuz-x86")
	os.WriteFile(path, bzImage(testVersion), 0o644)
	if im, err := Open(context.Background(), path, nil); err != nil || im.Arch != "x86_64" {
		t.Errorf("bzImage: %+v, %v", im, err)
	}
}

// The vmlinuz of a package is extracted once into the cache, whatever
// the compression of its data.tar.
func TestOpenDeb(t *testing.T) {
	kernel := bzImage(testVersion)
	for _, ext := range []string{".xz", ".zst", ".gz", ""} {
		t.Run("data.tar"+ext, func(t *testing.T) {
			dir, cache := t.TempDir(), t.TempDir()
			path := filepath.Join(dir, "linux-image-6.1.0-99-test-amd64_6.1.999-1_amd64.deb")
			os.WriteFile(path, deb(t, ext, map[string][]byte{
				"./usr/share/doc/linux-image-test/copyright": []byte("odd"),
				"./boot/System.map-test":                     []byte("map"),
				"./boot/vmlinuz-6.1.0-99-test-amd64":         kernel,
			}), 0o644)
			im, err := Open(context.Background(), path, &OpenOptions{CacheDir: cache})
			if err != nil {
				t.Fatal(err)
			}
			if im.Name != path || filepath.Base(im.Path) != "vmlinuz-6.1.0-99-test-amd64" || !strings.HasPrefix(im.Path, cache) || im.Release() != "6.1.0-99-test-amd64" {
				t.Errorf("%+v", im)
			}
			if got, _ := os.ReadFile(im.Path); !bytes.Equal(got, kernel) {
				t.Error("the extracted kernel differs from the package's")
			}
			// Again: from the cache, the same file, not rewritten.
			st1, _ := os.Stat(im.Path)
			im2, err := Open(context.Background(), path, &OpenOptions{CacheDir: cache})
			if err != nil || im2.Path != im.Path {
				t.Fatalf("second open: %+v, %v", im2, err)
			}
			if st2, _ := os.Stat(im.Path); !st2.ModTime().Equal(st1.ModTime()) {
				t.Error("the cached kernel was extracted again")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	full := deb(t, ".xz", map[string][]byte{"./boot/vmlinuz-6.1.0-99-test-amd64": bzImage(testVersion)})
	for _, c := range []struct {
		name, path, want string
		notKernel        bool
	}{
		{"meta package", write("linux-image-cloud-amd64_1_amd64.deb", deb(t, ".xz", map[string][]byte{"./usr/share/doc/linux-image-test/copyright": []byte("x")})),
			"no boot/vmlinuz-*: is it a linux-image-* package (and not its meta package", false},
		{"text file", write("notes.txt", []byte("hello")), "not a kernel image", true},
		{"folder", dir, "not a kernel image", true},
		{"missing", filepath.Join(dir, "nope"), "no such file", false},
		{"cut short", write("cut.deb", full[:len(full)/2]), "unexpected EOF", false},
		{"bad compression", write("bz2.deb", deb(t, ".bz2", nil)), "compression not supported", false},
		{"bzImage without HdrS", write("vmlinuz-bad", make([]byte, 4096)), "not a kernel image", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cache := t.TempDir()
			_, err := Open(context.Background(), c.path, &OpenOptions{CacheDir: cache})
			var ke *Error
			if !errors.As(err, &ke) || ke.Name != c.path || !strings.Contains(err.Error(), c.want) || errors.Is(err, ErrNotKernel) != c.notKernel {
				t.Errorf("error %v", err)
			}
			// Nothing half-extracted is left in the cache.
			filepath.Walk(cache, func(p string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() {
					t.Errorf("left in the cache: %s", p)
				}
				return nil
			})
		})
	}
}

// module is a minimal relocatable ELF with a .modinfo section saying what
// it depends on.
func module(t *testing.T, name, depends string) []byte {
	t.Helper()
	modinfo := []byte("license=GPL\x00depends=" + depends + "\x00name=" + name + "\x00")
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")
	var b bytes.Buffer
	hdr := elf.Header64{Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: 1,
		Ehsize: 64, Shentsize: 64, Shnum: 3, Shstrndx: 2,
		Shoff: uint64(64 + len(modinfo) + len(shstrtab))}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.Write(&b, binary.LittleEndian, &hdr)
	b.Write(modinfo)
	b.Write(shstrtab)
	for _, sh := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Off: 64, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: uint64(64 + len(modinfo)), Size: uint64(len(shstrtab)), Addralign: 1},
	} {
		binary.Write(&b, binary.LittleEndian, &sh)
	}
	return b.Bytes()
}

func xzBytes(b []byte) []byte {
	var out bytes.Buffer
	w, _ := xz.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// Modules come from the kernel's package with what they depend on, first;
// built-in ones are left out; compressed ones are decompressed.
func TestModules(t *testing.T) {
	const mods = "./lib/modules/6.1.0-99-test-amd64/"
	a, b, c := module(t, "sch_a", "dep_b,c-builtin"), module(t, "dep_b", "dep_c"), module(t, "dep_c", "")
	path := filepath.Join(t.TempDir(), "linux-image-6.1.0-99-test-amd64_1_amd64.deb")
	os.WriteFile(path, deb(t, ".xz", map[string][]byte{
		"./boot/vmlinuz-6.1.0-99-test-amd64": bzImage(testVersion),
		mods + "kernel/net/sched/sch_a.ko":   a,
		mods + "kernel/net/dep-b.ko.xz":      xzBytes(b),
		mods + "kernel/lib/dep_c.ko":         c,
		mods + "kernel/lib/unrelated.ko":     module(t, "unrelated", ""),
		mods + "modules.builtin":             []byte("kernel/lib/c_builtin.ko\n"),
	}), 0o644)
	im, err := Open(context.Background(), path, &OpenOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := im.Modules([]string{"sch_a"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, " ") != "dep_c.ko dep_b.ko sch_a.ko" {
		t.Errorf("modules %v, want dependencies first", names)
	}
	if data, _ := os.ReadFile(got[1]); !bytes.Equal(data, b) {
		t.Error("dep_b.ko is not the decompressed module")
	}
	if _, err := im.Modules([]string{"nope"}); err == nil || !strings.Contains(err.Error(), "has no module nope") {
		t.Errorf("a missing module: %v", err)
	}
	plain := filepath.Join(t.TempDir(), "vmlinuz")
	os.WriteFile(plain, bzImage(testVersion), 0o644)
	im, _ = Open(context.Background(), plain, &OpenOptions{CacheDir: t.TempDir()})
	if _, err := im.Modules([]string{"sch_a"}); !errors.Is(err, ErrNoModules) {
		t.Errorf("modules of a vmlinuz file: %v", err)
	}
}

// A kernel image in cilium/ci-kernels' layout: the linux/amd64 image of
// the index, the last layer with /boot/vmlinuz, pulled once per digest.
func TestOpenImage(t *testing.T) {
	reg := registrytest.NewServer(t, registrytest.ServerOptions{})
	old, cur := bzImage("5.4.0-old"), bzImage(testVersion)
	ref := reg.Host + "/ci-kernels:6.1"
	kerneltest.Push(t, ref,
		kerneltest.Layer(map[string][]byte{"boot/vmlinuz": old, "etc/motd": []byte("hi")}),
		kerneltest.Layer(map[string][]byte{"usr/lib/modules/x/bpf_testmod.ko": []byte("mod")}),
		kerneltest.Layer(map[string][]byte{"./boot/vmlinuz": cur}))
	cache := t.TempDir()
	im, err := Open(context.Background(), ref, &OpenOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if im.Name != ref || im.Release() != "6.1.0-99-test-amd64" || !strings.HasPrefix(im.Path, cache) || im.Package != "" {
		t.Errorf("%+v", im)
	}
	if b, _ := os.ReadFile(im.Path); !bytes.Equal(b, cur) {
		t.Error("not the last layer's vmlinuz")
	}
	n := reg.Count()
	if im2, err := Open(context.Background(), ref, &OpenOptions{CacheDir: cache}); err != nil || im2.Path != im.Path {
		t.Errorf("second open: %+v, %v", im2, err)
	}
	if got := reg.Count() - n; got > 2 {
		t.Errorf("second open made %d requests; the kernel is cached", got)
	}

	noKernel := reg.Host + "/ci-kernels:none"
	kerneltest.Push(t, noKernel, kerneltest.Layer(map[string][]byte{"etc/motd": []byte("hi")}))
	if _, err := Open(context.Background(), noKernel, &OpenOptions{CacheDir: cache}); err == nil || !strings.Contains(err.Error(), "has no /boot/vmlinuz") {
		t.Errorf("an image without a kernel: %v", err)
	}
	if _, err := Open(context.Background(), reg.Host+"/ci-kernels:missing", &OpenOptions{CacheDir: cache}); err == nil || !strings.Contains(err.Error(), "ci-kernels:missing") {
		t.Errorf("a missing tag: %v", err)
	}
}
