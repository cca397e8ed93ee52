package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarOf builds a tar (gzip-compressed when gz) of entries, in order.
func tarOf(t testing.TB, gz bool, entries ...*tar.Header) []byte {
	var buf bytes.Buffer
	var w = &buf
	var zw *gzip.Writer
	tw := (*tar.Writer)(nil)
	if gz {
		zw = gzip.NewWriter(w)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(w)
	}
	for _, h := range entries {
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(make([]byte, h.Size))
		}
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func archiveTemps(t *testing.T) []string {
	m, _ := filepath.Glob(filepath.Join(os.TempDir(), "ecc-oci-archive-*"))
	return m
}

// oci-archive: a compressed archive that unpacks past --max-bytes, one with
// more entries than a layout needs, and entries that leave the archive are
// refused; the extraction folder goes away and nothing lands outside it.
func TestOCIArchiveLimits(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	before := len(archiveTemps(t))
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		return p
	}
	// 8 MiB of zeros compress to a few KiB.
	bomb := write("bomb.tar.gz", tarOf(t, true, &tar.Header{Name: "oci-layout", Size: 30}, &tar.Header{Name: "blobs/sha256/aa", Size: 8 << 20}))
	if fi, _ := os.Stat(bomb); fi.Size() > 64<<10 {
		t.Fatalf("the bomb is %d bytes", fi.Size())
	}
	_, err := OpenTarget(ctx, mustRef(t, "oci-archive:"+bomb), &Options{Limits: Limits{MaxBytes: 4 << 20}})
	var le *LimitError
	if !errors.Is(err, ErrLimit) || !strings.HasSuffix(err.Error(), `the archive unpacks to more than 4.0 MiB (at "blobs/sha256/aa"), more than the 4.0 MiB allowed`) ||
		!errors.As(err, &le) || le.Limit != "MaxBytes" {
		t.Errorf("bomb: %v", err)
	}
	if _, err := OpenTarget(ctx, mustRef(t, "oci-archive:"+bomb), &Options{Limits: Limits{MaxBytes: 16 << 20}}); err == nil || errors.Is(err, ErrLimit) {
		t.Errorf("bomb under a raised limit: %v (want: not a layout)", err)
	}

	var many []*tar.Header
	for i := range MaxArchiveEntries + 1 {
		many = append(many, &tar.Header{Name: "d" + strings.Repeat("x", i%7) + "/" + string(rune('a'+i%26)) + "/", Typeflag: tar.TypeDir})
	}
	crowd := write("crowd.tar", tarOf(t, false, many...))
	if _, err := OpenTarget(ctx, mustRef(t, "oci-archive:"+crowd), nil); err == nil || !strings.Contains(err.Error(), "holds more than 10000 entries") {
		t.Errorf("10001 entries: %v", err)
	}

	for _, name := range []string{"../evil", "/abs/evil", "a/../../evil", "a/./b", "a//b", "a\\..\\evil", "x\x01y", ".."} {
		p := write("bad.tar", tarOf(t, false, &tar.Header{Name: name, Size: 1}))
		if _, err := OpenTarget(ctx, mustRef(t, "oci-archive:"+p), nil); err == nil || !strings.Contains(err.Error(), "leaves the archive or is not a plain relative path") {
			t.Errorf("%q: %v", name, err)
		}
	}
	// A symbolic link, even one pointing inside, is not a file or folder.
	link := write("link.tar", tarOf(t, false, &tar.Header{Name: "blobs", Typeflag: tar.TypeSymlink, Linkname: "/etc"}))
	if _, err := OpenTarget(ctx, mustRef(t, "oci-archive:"+link), nil); err == nil || !strings.Contains(err.Error(), "is not a file or folder") {
		t.Errorf("symlink: %v", err)
	}
	for _, f := range treeFiles(t, filepath.Dir(dir)) {
		if !strings.HasPrefix(f, filepath.Base(dir)+"/") {
			t.Errorf("written outside: %s", f)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "..", "evil")); err == nil {
		t.Error("an entry escaped")
	}
	if after := len(archiveTemps(t)); after > before {
		t.Errorf("%d extraction folders left behind", after-before)
	}
}

// FuzzExtractTar feeds arbitrary bytes to the oci-archive: reader: no
// panic, nothing outside the folder, never more than the byte limit.
func FuzzExtractTar(f *testing.F) {
	f.Add(tarOf(f, false, &tar.Header{Name: "oci-layout", Size: 30}, &tar.Header{Name: "blobs/", Typeflag: tar.TypeDir}, &tar.Header{Name: "blobs/sha256/ab", Size: 10}))
	f.Add(tarOf(f, true, &tar.Header{Name: "./index.json", Size: 2}))
	f.Add(tarOf(f, false, &tar.Header{Name: "../evil", Size: 1}))
	f.Add(tarOf(f, false, &tar.Header{Name: "big", Size: 1 << 20}))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "x")
		os.Mkdir(dir, 0o755)
		const max = 64 << 10
		err := extractTar(bytes.NewReader(data), dir, max)
		var total int64
		filepath.Walk(parent, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return nil
			}
			if p != parent && p != dir && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
				t.Fatalf("wrote %s outside %s", p, dir)
			}
			if fi.Mode()&os.ModeSymlink != 0 {
				t.Fatalf("made a symbolic link %s", p)
			}
			if fi.Mode().IsRegular() {
				total += fi.Size()
			}
			return nil
		})
		if total > max {
			t.Fatalf("unpacked %d bytes (err %v)", total, err)
		}
	})
}
