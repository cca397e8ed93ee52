package debpkg_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ecc-bpf/ecc/internal/debpkg"
	"github.com/ecc-bpf/ecc/internal/debpkg/debtest"
)

// Every file of data.tar comes out, whatever its compression; the first
// boot/vmlinuz-* is the kernel; what is no .deb, or is cut short, says so.
func TestFilesAndVmlinuz(t *testing.T) {
	files := map[string][]byte{"./boot/vmlinuz-6.1.0-99": []byte("kernel"), "./usr/share/doc/x/copyright": []byte("odd")}
	for _, ext := range []string{".xz", ".zst", ".gz", ""} {
		deb := debtest.Build(t, ext, files)
		if !debpkg.IsDeb(deb) {
			t.Fatalf("data.tar%s: not a .deb", ext)
		}
		got := map[string]string{}
		err := debpkg.Files(bytes.NewReader(deb), func(name string, body io.Reader) (bool, error) {
			b, err := io.ReadAll(body)
			got[name] = string(b)
			return false, err
		})
		if err != nil || len(got) != 2 || got["boot/vmlinuz-6.1.0-99"] != "kernel" || got["usr/share/doc/x/copyright"] != "odd" {
			t.Errorf("data.tar%s: %v, %v", ext, got, err)
		}
		var base, body string
		err = debpkg.Vmlinuz(bytes.NewReader(deb), func(b string, r io.Reader) error {
			data, err := io.ReadAll(r)
			base, body = b, string(data)
			return err
		})
		if err != nil || base != "vmlinuz-6.1.0-99" || body != "kernel" {
			t.Errorf("data.tar%s: vmlinuz %q %q, %v", ext, base, body, err)
		}
	}
	meta := debtest.Build(t, ".xz", map[string][]byte{"./usr/share/doc/x/copyright": []byte("x")})
	if err := debpkg.Vmlinuz(bytes.NewReader(meta), nil); !errors.Is(err, debpkg.ErrNoVmlinuz) {
		t.Errorf("meta package: %v", err)
	}
	if err := debpkg.Files(strings.NewReader("hello, no archive"), nil); !errors.Is(err, debpkg.ErrNotDeb) {
		t.Errorf("text: %v", err)
	}
	full := debtest.Build(t, "", files)
	if err := debpkg.Files(bytes.NewReader(full[:len(full)-700]), func(string, io.Reader) (bool, error) { return false, nil }); err == nil {
		t.Error("a package cut short reads without error")
	}
	if err := debpkg.Files(bytes.NewReader(debtest.Build(t, ".bz2", files)), nil); err == nil || !strings.Contains(err.Error(), "compression not supported") {
		t.Errorf("bzip2: %v", err)
	}
}
