package initramfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// entry is one parsed cpio entry.
type entry struct {
	name         string
	mode         uint32
	rmaj, rmin   uint32
	data         string
	ino, nlink   uint32
	headerOffset int
}

// parse reads a newc archive the way the kernel's init/initramfs.c does:
// 110-byte headers, name and data each padded to 4 bytes, up to the
// trailer.
func parse(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	off := 0
	for {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc header at %d", off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatalf("header at %d field %d: %v", off, i, err)
			}
			return uint32(v)
		}
		e := entry{ino: field(0), mode: field(1), nlink: field(4), rmaj: field(9), rmin: field(10), headerOffset: off}
		size, namesize := int(field(6)), int(field(11))
		name := b[off+110 : off+110+namesize]
		if name[len(name)-1] != 0 {
			t.Fatalf("name at %d not NUL-terminated", off)
		}
		e.name = string(name[:len(name)-1])
		off = align(off + 110 + namesize)
		e.data = string(b[off : off+size])
		off = align(off + size)
		if e.name == "TRAILER!!!" {
			if len(b)%512 != 0 {
				t.Errorf("archive of %d bytes is not padded to 512", len(b))
			}
			if strings.Trim(string(b[off:]), "\x00") != "" {
				t.Error("bytes after the trailer")
			}
			return out
		}
		out = append(out, e)
	}
}

func align(n int) int { return (n + 3) &^ 3 }

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "prog")
	os.WriteFile(host, []byte("#!static\x00binary"), 0o755)
	out := filepath.Join(dir, "initramfs.cpio")
	n, err := Write(out, []File{
		{Name: "/init", Host: host, Mode: 0o755},
		{Name: "/ecc-test/config.json", Data: []byte(`{"a":1}`)},
		{Name: "/ecc-test/sub/odd", Data: []byte("12345")},
		{Name: "/bin/busybox", Data: []byte("bb"), Mode: 0o755, Links: []string{"/bin/sh", "/usr/bin/env"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || int64(len(b)) != n {
		t.Fatalf("%d bytes written, %d reported (%v)", len(b), n, err)
	}
	var got []string
	inos := map[uint32]bool{}
	for _, e := range parse(t, b) {
		got = append(got, fmt.Sprintf("%s %o %d:%d %q", e.name, e.mode, e.rmaj, e.rmin, e.data))
		if inos[e.ino] {
			t.Errorf("%s: inode %d used twice", e.name, e.ino)
		}
		inos[e.ino] = true
	}
	want := []string{
		`dev 40755 0:0 ""`, `proc 40755 0:0 ""`, `sys 40755 0:0 ""`, `tmp 40755 0:0 ""`, `run 40755 0:0 ""`, `bin 40755 0:0 ""`,
		`dev/console 20600 5:1 ""`,
		`init 100755 0:0 "#!static\x00binary"`,
		`ecc-test 40755 0:0 ""`, `ecc-test/config.json 100644 0:0 "{\"a\":1}"`,
		`ecc-test/sub 40755 0:0 ""`, `ecc-test/sub/odd 100644 0:0 "12345"`,
		`bin/busybox 100755 0:0 "bb"`, `bin/sh 120777 0:0 "/bin/busybox"`,
		`usr 40755 0:0 ""`, `usr/bin 40755 0:0 ""`, `usr/bin/env 120777 0:0 "/bin/busybox"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A failed write leaves nothing behind: no archive, no temporary file.
func TestWriteFailsWhole(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "initramfs.cpio")
	for _, files := range [][]File{
		{{Name: "/init", Host: filepath.Join(dir, "missing")}},
		{{Name: "relative", Data: []byte("x")}},
		{{Name: "/a", Data: []byte("x")}, {Name: "/a", Data: []byte("y")}},
		{{Name: "/init", Host: dir}}, // a folder
	} {
		if _, err := Write(out, files); err == nil {
			t.Errorf("%+v: no error", files)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestWriterRules(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.File("a/b", 0o644, strings.NewReader("x"), 1); err == nil || !strings.Contains(err.Error(), "before its folder a") {
		t.Errorf("file before its folder: %v", err)
	}
	w = NewWriter(&b)
	if err := w.File("f", 0o644, strings.NewReader("x"), 2); err == nil || !strings.Contains(err.Error(), "shorter than 2 bytes") {
		t.Errorf("short reader: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a failed entry: no error")
	}
	w = NewWriter(&b)
	if err := w.Dir("TRAILER!!!", 0o755); err == nil {
		t.Error("an entry named like the trailer is accepted")
	}
}
