//go:build !unix

package local

import "os"

// Without flock(2) there is no lock: only one Backend at a time may use a
// directory on such systems (see the package doc).
func tryFlock(*os.File, bool) (bool, error) { return true, nil }

func unflock(*os.File) error { return nil }
