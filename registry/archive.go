package registry

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// extractTar unpacks a (possibly gzip-compressed) tar of an OCI layout into
// dir, through an os.Root so that nothing lands outside it. Only folders and
// regular files are accepted, under relative names without ".." (checked,
// not cleaned), at most MaxArchiveEntries of them holding at most maxBytes
// in all: a small compressed archive cannot fill the disk.
func extractTar(r io.Reader, dir string, maxBytes int64) error {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	var total int64
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if entries >= MaxArchiveEntries {
			return fmt.Errorf("the archive holds more than %d entries, more than an OCI layout of packages needs", MaxArchiveEntries)
		}
		name, err := archiveName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("extract %q: %w", hdr.Name, err)
			}
		case tar.TypeReg:
			if hdr.Size < 0 || hdr.Size > maxBytes-total {
				return &LimitError{What: fmt.Sprintf("the archive unpacks to more than %s (at %q)", HumanSize(maxBytes), hdr.Name),
					Max: HumanSize(maxBytes), Limit: "MaxBytes"}
			}
			total += hdr.Size
			if d := path.Dir(name); d != "." {
				if err := root.MkdirAll(d, 0o755); err != nil {
					return fmt.Errorf("extract %q: %w", hdr.Name, err)
				}
			}
			f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return fmt.Errorf("extract %q: %w", hdr.Name, err)
			}
			_, err = io.Copy(f, io.LimitReader(tr, hdr.Size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("extract %q: %w", hdr.Name, err)
			}
		case tar.TypeXGlobalHeader:
		default:
			return fmt.Errorf("tar entry %q is not a file or folder", hdr.Name)
		}
	}
}

// archiveName checks the name of a tar entry: relative, slash-separated,
// no "..", NUL, backslash or control characters. "./x" and "x/" are
// accepted as "x"; "" means the archive's top folder.
func archiveName(name string) (string, error) {
	n := strings.TrimPrefix(name, "./")
	if n == "" || n == "." || n == "./" {
		return "", nil
	}
	n = strings.TrimSuffix(n, "/")
	bad := n == "" || strings.HasPrefix(n, "/") || len(n) > 1024
	for _, part := range strings.Split(n, "/") {
		if part == "" || part == "." || part == ".." {
			bad = true
		}
	}
	for _, c := range n {
		if c < 0x20 || c == 0x7f || c == '\\' {
			bad = true
		}
	}
	if bad {
		return "", fmt.Errorf("tar entry %q leaves the archive or is not a plain relative path", name)
	}
	return n, nil
}

// writeArchive tars the layout in dir (oci-layout, index.json, blobs/…, in
// that order, with fixed owners and timestamps) into a temporary file next
// to file and renames it over file.
func writeArchive(dir, file string) (err error) {
	parent := filepath.Dir(file)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(parent, "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	epoch := time.Unix(0, 0)
	add := func(rel string, d fs.DirEntry) error {
		hdr := &tar.Header{Name: rel, ModTime: epoch}
		if d.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, rel+"/", 0o755
			return tw.WriteHeader(hdr)
		}
		if !d.Type().IsRegular() {
			return nil // ingest leftovers and the like are not part of a layout
		}
		src, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return err
		}
		defer src.Close()
		fi, err := src.Stat()
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, fi.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		return err
	}
	for _, name := range []string{ocispec.ImageLayoutFile, ocispec.ImageIndexFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := add(name, fs.FileInfoToDirEntry(fi)); err != nil {
			return err
		}
	}
	err = filepath.WalkDir(filepath.Join(dir, ocispec.ImageBlobsDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return add(filepath.ToSlash(rel), d)
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), file)
}
