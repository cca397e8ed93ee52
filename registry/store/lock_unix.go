//go:build unix

package store

import (
	"context"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// storeFlock opens path (creating it) and flock(2)s it, shared or exclusive,
// and returns the release (which closes the file). Each call opens its own file
// description, so goroutines of one process exclude each other exactly as
// processes do. A blocked wait ends when ctx is done.
func storeFlock(ctx context.Context, path string, exclusive bool) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	fd := int(f.Fd())
	err = storeFlockRetry(fd, how|unix.LOCK_NB)
	if err == nil {
		return func() { f.Close() }, nil
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, err
	}
	if ctx.Done() == nil {
		if err := storeFlockRetry(fd, how); err != nil {
			f.Close()
			return nil, err
		}
		return func() { f.Close() }, nil
	}
	done := make(chan error, 1)
	go func() { done <- storeFlockRetry(fd, how) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, err
		}
		return func() { f.Close() }, nil
	case <-ctx.Done():
		// The waiter still owns f: close it once flock returns, which
		// releases the lock if it was granted.
		go func() { <-done; f.Close() }()
		return nil, ctx.Err()
	}
}

func storeFlockRetry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// storeFlockFile takes an exclusive lock on a file just created, which marks
// it as in use for as long as f stays open.
func storeFlockFile(f *os.File) error {
	return storeFlockRetry(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
}

// storeTryLock reports whether nobody holds a lock on f's file (and leaves
// it locked by f then, until f is closed).
func storeTryLock(f *os.File) (bool, error) {
	err := storeFlockRetry(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return false, err
}
