// Package flock takes advisory whole-file locks (flock(2) on Unix) without
// blocking. The lock belongs to the open file, so two opens of one path in
// one process exclude each other exactly as two processes do. Elsewhere
// (no flock) every attempt succeeds: callers document that only one user at
// a time is safe there.
package flock

import "os"

// Supported reports whether locks really exclude (false: TryLock always
// succeeds).
const Supported = supported

// TryLock takes a shared or exclusive lock on f without blocking; false if
// another open file description holds a conflicting one.
func TryLock(f *os.File, exclusive bool) (bool, error) { return tryLock(f, exclusive) }

// Unlock releases f's lock.
func Unlock(f *os.File) error { return unlock(f) }
