// Package debpkg reads Debian and Ubuntu binary packages (.deb) in Go: the
// ar archive, its data.tar (compressed with xz, zstd or gzip, or not) and
// the files in it. `ecc test --kernel` and `ecc build --btfgen` take a
// linux-image-*.deb through it.
package debpkg

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Magic starts a .deb, an ar archive: debian-binary, control.tar.*,
// data.tar.*.
const Magic = "!<arch>\n"

// ErrNotDeb is wrapped when a file does not start as an ar archive.
var ErrNotDeb = errors.New("not a Debian package (no ar archive header)")

// ErrNoVmlinuz is wrapped when a package holds no boot/vmlinuz-*.
var ErrNoVmlinuz = errors.New("the package has no boot/vmlinuz-*: is it a linux-image-* package (and not its meta package, whose dependency holds the kernel)?")

// IsDeb reports whether head, the first bytes of a file, starts a .deb.
func IsDeb(head []byte) bool { return bytes.HasPrefix(head, []byte(Magic)) }

// data returns a reader of the data.tar of a .deb, decompressed, and its
// member name; close it when done.
func data(r io.Reader) (io.ReadCloser, string, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != Magic {
		return nil, "", ErrNotDeb
	}
	for {
		name, size, err := arNext(br)
		if errors.Is(err, io.EOF) {
			return nil, "", errors.New("the package has no data.tar member")
		}
		if err != nil {
			return nil, "", err
		}
		body := io.LimitReader(br, size)
		if !strings.HasPrefix(name, "data.tar") {
			if _, err := io.Copy(io.Discard, body); err != nil {
				return nil, "", err
			}
			if size%2 == 1 {
				br.ReadByte()
			}
			continue
		}
		dr, err := Decompress(name, body)
		if err != nil {
			return nil, "", err
		}
		return dr, name, nil
	}
}

// Files calls visit for each regular file of a .deb's data.tar, with its
// path (without "./"), until visit says stop.
func Files(r io.Reader, visit func(name string, body io.Reader) (stop bool, err error)) error {
	data, member, err := data(r)
	if err != nil {
		return err
	}
	defer data.Close()
	tr := tar.NewReader(data)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", member, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		stop, err := visit(strings.TrimPrefix(path.Clean("/"+h.Name), "/"), tr)
		if err != nil || stop {
			return err
		}
	}
}

// Vmlinuz finds boot/vmlinuz-* in a kernel package and calls save with
// its base name and bytes; ErrNoVmlinuz when there is none.
func Vmlinuz(r io.Reader, save func(base string, body io.Reader) error) error {
	found := false
	err := Files(r, func(name string, body io.Reader) (bool, error) {
		if path.Dir(name) != "boot" || !strings.HasPrefix(path.Base(name), "vmlinuz-") {
			return false, nil
		}
		found = true
		if err := save(path.Base(name), body); err != nil {
			return true, fmt.Errorf("extract %s: %w", name, err)
		}
		return true, nil
	})
	if err == nil && !found {
		err = ErrNoVmlinuz
	}
	return err
}

// arNext reads the next member header: name and size.
func arNext(r io.Reader) (string, int64, error) {
	var h [60]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return "", 0, errors.New("the package is cut short")
		}
		return "", 0, err
	}
	if string(h[58:60]) != "`\n" {
		return "", 0, errors.New("the package's ar archive is malformed")
	}
	name := strings.TrimSuffix(strings.TrimSpace(string(h[0:16])), "/")
	size, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
	if err != nil || size < 0 {
		return "", 0, errors.New("the package's ar archive has a bad member size")
	}
	return name, size, nil
}

// Decompress reads r by the compression its name's extension says: .xz,
// .zst, .gz, or .tar for none.
func Decompress(name string, r io.Reader) (io.ReadCloser, error) {
	switch path.Ext(name) {
	case ".tar":
		return io.NopCloser(r), nil
	case ".xz":
		x, err := xz.NewReader(r)
		return io.NopCloser(x), err
	case ".zst":
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case ".gz":
		return gzip.NewReader(r)
	}
	return nil, fmt.Errorf("%s: compression not supported (xz, zstd, gzip or none)", name)
}
