package local

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/envkms/kms/internal/flock"
)

// lockName is the directory's lock file. Every update of a key file (create,
// rotate, state change, purge) holds it exclusively from the re-read of the
// file to the fsync of the directory after the rename; every load of a key
// file holds it shared. So updates made through any number of Backends, in
// one process or several, are serialised, none works on a stale copy, and no
// Backend loads a key file whose rename is not yet durable.
const lockName = ".keydir.lock"

// lockPoll is how often a blocked lock attempt retries (it polls so that it
// can honour the context).
const lockPoll = 2 * time.Millisecond

// dirLock is a Backend's handle on the directory's lock file. The kernel
// lock belongs to the open file, so two Backends in one process exclude each
// other exactly as two processes do; within one Backend, turn (a mutex that
// honours contexts) makes sure one goroutine at a time uses the handle,
// since the kernel would let them all share it.
type dirLock struct {
	f    *os.File
	turn chan struct{}
}

func openDirLock(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		// A read-only directory: lock the existing file through a
		// read-only handle (flock does not need write access).
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return &dirLock{f: f, turn: make(chan struct{}, 1)}, nil
}

// lock takes the lock (exclusive or shared), waiting as long as ctx allows,
// and returns the function that releases it.
func (l *dirLock) lock(ctx context.Context, exclusive bool) (func(), error) {
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, errors.Join(errLockTimeout, ctx.Err())
	}
	for {
		ok, err := flock.TryLock(l.f, exclusive)
		if err != nil {
			<-l.turn
			return nil, &FileError{Path: l.f.Name(), Err: err}
		}
		if ok {
			return func() { _ = flock.Unlock(l.f); <-l.turn }, nil
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			<-l.turn
			return nil, errors.Join(errLockTimeout, ctx.Err())
		case <-t.C:
		}
	}
}

func (l *dirLock) close() error { return l.f.Close() }

var errLockTimeout = errors.New("local: key directory lock not acquired")
