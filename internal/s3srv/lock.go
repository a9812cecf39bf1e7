package s3srv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/envkms/kms/internal/flock"
)

// lockFileName is the data directory's lock file. A Server holds an
// exclusive flock(2) on it from New to Close, so a second server (another
// process, or another New in this one) on the same directory refuses to
// start instead of emptying DIR/tmp under the first one's writes and
// running a second KMS Manager on its key directory.
const lockFileName = "s3server.lock"

// ErrDataDirLocked is wrapped by New's error when another Server holds the
// data directory. The message names the lock file and, when it recorded
// one, the holder's process id.
var ErrDataDirLocked = errors.New("s3srv: data directory is in use by another server")

// dirLock is a held data-directory lock.
type dirLock struct {
	f *os.File
}

// lockDataDir takes the lock of dir without waiting: ErrDataDirLocked if
// another Server holds it. The holder's pid is written into the file, for
// the message the next one gets.
func lockDataDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, fmt.Errorf("%w: lock file: %v", ErrDataDir, err)
	}
	ok, err := flock.TryLock(f, true)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w: lock %s: %v", ErrDataDir, path, err)
	}
	if !ok {
		holder := ""
		if b, err := os.ReadFile(path); err == nil {
			if pid := string(bytes.TrimSpace(b)); pid != "" {
				holder = " by pid " + pid
			}
		}
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s is locked%s", ErrDataDirLocked, path, holder)
	}
	// Best effort: the pid only makes the message above more useful.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

// release drops the lock (closing the file releases the flock).
func (l *dirLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
