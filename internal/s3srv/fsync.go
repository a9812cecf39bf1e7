package s3srv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// syncDir fsyncs a directory so that a rename into it, or an entry created
// or removed in it, survives a power cut.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories can't be fsynced there; NTFS journals renames
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// mkdirAllDurable is os.MkdirAll(path, dirPerm) that also fsyncs the parent
// of every directory it creates, so the new directories survive a power cut.
func mkdirAllDurable(path string) error {
	var created []string
	for p := filepath.Clean(path); ; {
		if _, err := os.Lstat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		created = append(created, p)
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	if err := os.MkdirAll(path, dirPerm); err != nil {
		return err
	}
	for _, p := range created { // deepest first
		if err := syncDir(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}
