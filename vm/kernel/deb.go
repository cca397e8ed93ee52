package kernel

import (
	"archive/tar"
	"bufio"
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

// A .deb is an ar archive: debian-binary, control.tar.*, data.tar.*.
const arMagic = "!<arch>\n"

// debVmlinuz finds boot/vmlinuz-* in a kernel package and returns its base
// name and a reader of its bytes.
func debVmlinuz(r io.Reader) (string, io.Reader, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != arMagic {
		return "", nil, ErrNotKernel
	}
	for {
		name, size, err := arNext(br)
		if errors.Is(err, io.EOF) {
			return "", nil, errors.New("the package has no data.tar member")
		}
		if err != nil {
			return "", nil, err
		}
		body := io.LimitReader(br, size)
		if !strings.HasPrefix(name, "data.tar") {
			if _, err := io.Copy(io.Discard, body); err != nil {
				return "", nil, err
			}
			if size%2 == 1 {
				br.ReadByte()
			}
			continue
		}
		dr, err := decompress(name, body)
		if err != nil {
			return "", nil, err
		}
		tr := tar.NewReader(dr)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return "", nil, errors.New("the package has no boot/vmlinuz-*: is it a linux-image-* package (and not its meta package, whose dependency holds the kernel)?")
			}
			if err != nil {
				return "", nil, fmt.Errorf("read %s: %w", name, err)
			}
			p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			if h.Typeflag == tar.TypeReg && path.Dir(p) == "boot" && strings.HasPrefix(path.Base(p), "vmlinuz-") {
				return path.Base(p), tr, nil
			}
		}
	}
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

func decompress(name string, r io.Reader) (io.Reader, error) {
	switch path.Ext(name) {
	case ".tar":
		return r, nil
	case ".xz":
		return xz.NewReader(r)
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
