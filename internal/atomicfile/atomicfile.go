// Package atomicfile writes a file through a temporary file in the same
// folder, renamed over it once complete: readers never see a partial
// file, and a failure leaves nothing behind.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write creates path with mode perm from what fill writes.
func Write(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Copy creates path with mode perm holding what r reads.
func Copy(path string, perm os.FileMode, r io.Reader) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}
