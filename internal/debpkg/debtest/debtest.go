// Package debtest writes .deb packages for tests.
package debtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"maps"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/ecc-bpf/ecc/internal/debpkg"
)

// Build returns a .deb: debian-binary, control.tar.xz (not a real one)
// and data.tar+ext (".xz", ".zst", ".gz", or "" for none; any other
// extension names the member but leaves it uncompressed) holding files,
// by path ("./boot/vmlinuz-6.1.0-99-test-amd64").
func Build(t testing.TB, ext string, files map[string][]byte) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "./boot/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var data bytes.Buffer
	var w io.WriteCloser
	switch ext {
	case ".xz":
		w, _ = xz.NewWriter(&data)
	case ".zst":
		w, _ = zstd.NewWriter(&data)
	case ".gz":
		w = gzip.NewWriter(&data)
	default: // "" or one ecc does not read
		data = tb
	}
	if w != nil {
		w.Write(tb.Bytes())
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	b.WriteString(debpkg.Magic)
	member := func(name string, body []byte) {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name+"/", 0, 0, 0, "100644", len(body))
		b.Write(body)
		if len(body)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	member("debian-binary", []byte("2.0\n"))
	member("control.tar.xz", []byte("not read"))
	member("data.tar"+ext, data.Bytes())
	return b.Bytes()
}
