//go:build !unix

package store

import (
	"context"
	"os"
	"sync"
)

// Without flock(2) the store is only safe within one process: a process-wide
// read-write mutex stands in for the file lock.
var storeProcessLock sync.RWMutex

func storeFlock(ctx context.Context, path string, exclusive bool) (func(), error) {
	if exclusive {
		storeProcessLock.Lock()
		return storeProcessLock.Unlock, nil
	}
	storeProcessLock.RLock()
	return storeProcessLock.RUnlock, nil
}

func storeFlockFile(f *os.File) error { return nil }

// storeTryLock cannot tell live files from abandoned ones here: it keeps them.
func storeTryLock(f *os.File) (bool, error) { return false, nil }
