package initramfs

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/ecc-bpf/ecc/internal/atomicfile"
)

// File is one file of the initramfs: its contents are Data, or the file
// at Host on this machine.
type File struct {
	// Name is the absolute path inside the VM.
	Name string
	Host string
	Data []byte
	Mode fs.FileMode
	// Links are other names of the file inside the VM, as symbolic links
	// to Name (busybox's applets).
	Links []string
}

// base is the layout every initramfs has: the mount points, and
// /dev/console, which the kernel opens for init's stdin, stdout and
// stderr before anything is mounted.
var baseDirs = []string{"/dev", "/proc", "/sys", "/tmp", "/run", "/bin"}

// Write writes the archive of files to path, with the folders they need,
// and returns its size. The file appears whole or not at all.
func Write(path string, files []File) (int64, error) {
	var n int64
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		var err error
		n, err = write(w, files)
		return err
	})
	return n, err
}

func write(out io.Writer, files []File) (int64, error) {
	w := NewWriter(out)
	dirs := map[string]bool{"/": true}
	mkdir := func(d string) error {
		var missing []string
		for ; !dirs[d]; d = path.Dir(d) {
			missing = append(missing, d)
		}
		for _, m := range slices.Backward(missing) {
			if err := w.Dir(m, 0o755); err != nil {
				return err
			}
			dirs[m] = true
		}
		return nil
	}
	for _, d := range baseDirs {
		if err := mkdir(d); err != nil {
			return 0, err
		}
	}
	if err := w.CharDev("/dev/console", 0o600, 5, 1); err != nil {
		return 0, err
	}
	for _, f := range files {
		if !strings.HasPrefix(f.Name, "/") {
			return 0, fmt.Errorf("%s: not an absolute path", f.Name)
		}
		if err := mkdir(path.Dir(f.Name)); err != nil {
			return 0, err
		}
		var r io.Reader = bytes.NewReader(f.Data)
		size := int64(len(f.Data))
		if f.Host != "" {
			h, err := os.Open(f.Host)
			if err != nil {
				return 0, err
			}
			st, err := h.Stat()
			if err != nil {
				h.Close()
				return 0, err
			}
			if !st.Mode().IsRegular() {
				h.Close()
				return 0, fmt.Errorf("%s: not a regular file", f.Host)
			}
			r, size = h, st.Size()
			defer h.Close()
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := w.File(f.Name, mode, r, size); err != nil {
			return 0, err
		}
		for _, l := range f.Links {
			if err := mkdir(path.Dir(l)); err != nil {
				return 0, err
			}
			if err := w.Symlink(l, f.Name); err != nil {
				return 0, err
			}
		}
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return w.Len(), nil
}
