package local

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// tempPrefix starts every temporary file; loading ignores such files (no key
// id starts with a dot) and New removes stale ones.
const tempPrefix = ".tmp-"

// staleTempAge is how old a temporary file must be before New removes it
// (a younger one may belong to another process writing right now).
const staleTempAge = time.Hour

// Steps of writeAtomic, reported to Config.testHook after each one. A hook
// error simulates a crash right there: writeAtomic stops without cleaning up.
const (
	stepCreated  = "created"  // empty temp file exists
	stepPartial  = "partial"  // half the bytes written
	stepWritten  = "written"  // all bytes written, not synced
	stepSynced   = "synced"   // temp file fsynced
	stepClosed   = "closed"   // temp file closed
	stepRenamed  = "renamed"  // temp renamed (or linked) over the target
	stepUnlinked = "unlinked" // exclusive mode: temp name removed
	stepDirSync  = "dirsync"  // directory fsynced: durable
)

// writeAtomic replaces path with data so that a crash at any point leaves
// either the old file or the new one, never a torn one: write a temp file in
// the same directory, fsync it, rename it over path, fsync the directory.
// With exclusive, path must not exist (fs.ErrExist otherwise): the temp file
// is hard-linked to path, which fails atomically if path exists.
func (b *Backend) writeAtomic(path string, data []byte, exclusive bool) (err error) {
	f, err := os.CreateTemp(b.dir, tempPrefix+"*")
	if err != nil {
		return &FileError{Path: path, Err: err}
	}
	tmp := f.Name()
	crashed := false
	closed := false
	defer func() {
		if !closed {
			_ = f.Close()
		}
		if err != nil && !crashed {
			_ = os.Remove(tmp)
		}
	}()
	step := func(name string) error {
		if b.testHook == nil {
			return nil
		}
		if err := b.testHook(name); err != nil {
			crashed = true
			return err
		}
		return nil
	}
	fail := func(err error) error { return &FileError{Path: path, Err: err} }

	if err := step(stepCreated); err != nil {
		return err
	}
	half := len(data) / 2
	if _, err := f.Write(data[:half]); err != nil {
		return fail(err)
	}
	if err := step(stepPartial); err != nil {
		return err
	}
	if _, err := f.Write(data[half:]); err != nil {
		return fail(err)
	}
	if err := step(stepWritten); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := step(stepSynced); err != nil {
		return err
	}
	closed = true
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := step(stepClosed); err != nil {
		return err
	}
	if exclusive {
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fs.ErrExist
			}
			return fail(err)
		}
		if err := step(stepRenamed); err != nil {
			return err
		}
		if err := os.Remove(tmp); err != nil {
			return fail(err)
		}
		if err := step(stepUnlinked); err != nil {
			return err
		}
	} else {
		if err := os.Rename(tmp, path); err != nil {
			return fail(err)
		}
		if err := step(stepRenamed); err != nil {
			return err
		}
	}
	if err := syncDir(b.dir); err != nil {
		return fail(err)
	}
	return step(stepDirSync)
}

// removeFile deletes path and makes the deletion durable.
func (b *Backend) removeFile(path string) error {
	if err := os.Remove(path); err != nil {
		return &FileError{Path: path, Err: err}
	}
	if err := syncDir(b.dir); err != nil {
		return &FileError{Path: path, Err: err}
	}
	return nil
}

// syncDir fsyncs a directory so a rename or unlink in it is durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories can't be fsynced there; renames are durable
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// removeStaleTemps deletes temp files older than staleTempAge, left by a
// crash mid-write.
func (b *Backend) removeStaleTemps() {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || time.Since(fi.ModTime()) < staleTempAge {
			continue
		}
		path := filepath.Join(b.dir, e.Name())
		if os.Remove(path) == nil {
			b.log.Info("local: removed stale temporary file", "path", path)
		}
	}
}
