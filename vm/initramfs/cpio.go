// Package initramfs writes the initramfs of an `ecc test` VM: a newc
// ("070701") cpio archive, uncompressed (the kernel unpacks it fastest so,
// which matters under TCG), holding a static ecli as /init, the package,
// the run's configuration and what a COMMAND needs.
package initramfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// Writer writes a newc cpio archive. Names are absolute or relative paths
// inside the archive (stored without the leading slash); parents must be
// added before their children. Close writes the trailer.
type Writer struct {
	w    *bufio.Writer
	ino  uint32
	n    int64
	seen map[string]bool
	err  error
}

// NewWriter starts an archive on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 1<<20), ino: 1, seen: map[string]bool{}}
}

// Mode bits of newc headers (the st_mode of stat(2)).
const (
	typeDir     = 0o040000
	typeFile    = 0o100000
	typeSymlink = 0o120000
	typeChar    = 0o020000
)

// Dir adds a folder.
func (w *Writer) Dir(name string, perm fs.FileMode) error {
	return w.entry(name, typeDir|uint32(perm.Perm()), 0, 0, nil, 0)
}

// File adds a regular file of size bytes read from r.
func (w *Writer) File(name string, perm fs.FileMode, r io.Reader, size int64) error {
	return w.entry(name, typeFile|uint32(perm.Perm()), 0, 0, r, size)
}

// Symlink adds a symbolic link to target.
func (w *Writer) Symlink(name, target string) error {
	return w.entry(name, typeSymlink|0o777, 0, 0, strings.NewReader(target), int64(len(target)))
}

// CharDev adds a character device node (e.g. /dev/console, which the
// kernel opens for init before anything is mounted).
func (w *Writer) CharDev(name string, perm fs.FileMode, major, minor uint32) error {
	return w.entry(name, typeChar|uint32(perm.Perm()), major, minor, nil, 0)
}

// Close writes the trailer and flushes; it does not close the underlying
// writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	w.ino = 0
	if err := w.header("TRAILER!!!", 0, 0, 0, 0); err != nil {
		return err
	}
	// Pad the archive to 512 bytes, as cpio(1) does.
	if pad := (512 - w.n%512) % 512; pad > 0 {
		w.write(make([]byte, pad))
	}
	if w.err != nil {
		return w.err
	}
	return w.w.Flush()
}

// Len is how many bytes were written so far.
func (w *Writer) Len() int64 { return w.n }

func (w *Writer) entry(name string, mode, rmajor, rminor uint32, r io.Reader, size int64) error {
	if w.err != nil {
		return w.err
	}
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" || name == "TRAILER!!!" {
		return fmt.Errorf("initramfs: bad entry name %q", name)
	}
	if w.seen[name] {
		return fmt.Errorf("initramfs: %s added twice", name)
	}
	if dir := path.Dir(name); dir != "." && !w.seen[dir] {
		return fmt.Errorf("initramfs: %s added before its folder %s", name, dir)
	}
	if size > 1<<32-1 {
		return fmt.Errorf("initramfs: %s: %d bytes is too large for a cpio entry", name, size)
	}
	w.seen[name] = true
	w.ino++
	if err := w.header(name, mode, uint32(size), rmajor, rminor); err != nil {
		return err
	}
	if r != nil {
		n, err := io.CopyN(w.w, r, size)
		w.n += n
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("initramfs: %s: shorter than %d bytes", name, size)
			}
			w.err = err
			return err
		}
		w.pad()
	}
	return w.err
}

func (w *Writer) header(name string, mode, size, rmajor, rminor uint32) error {
	nlink := uint32(1)
	if mode&0o170000 == typeDir {
		nlink = 2
	}
	h := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		w.ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, len(name)+1, 0)
	w.write([]byte(h))
	w.write([]byte(name))
	w.write([]byte{0})
	w.pad()
	return w.err
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.w.Write(b)
	w.n += int64(n)
	w.err = err
}

// pad aligns the archive to 4 bytes.
func (w *Writer) pad() {
	if p := (4 - w.n%4) % 4; p > 0 {
		w.write(make([]byte, p))
	}
}
