//go:build !unix

package flock

import "os"

const supported = false

func tryLock(*os.File, bool) (bool, error) { return true, nil }

func unlock(*os.File) error { return nil }
