//go:build !linux

package symbol

import "io/fs"

// statKey identifies a file by size and time only where inodes are not at
// hand; /proc, which user lookups need, is Linux's anyway.
func statKey(fi fs.FileInfo) fileKey {
	return fileKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}
