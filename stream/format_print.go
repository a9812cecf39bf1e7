package stream

import "fmt"

// The stream types hold plaintext in their segment buffers (and the ReaderAt
// a cached segment). fmt would print those fields for %v of a pointer to the
// struct, so each type describes itself without them.

// String describes the reader without its buffers.
func (r *decryptReader) String() string { return "stream.decryptReader" }

// Format prints String for every verb.
func (r *decryptReader) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// String describes the reader without its buffers.
func (r *parallelReader) String() string { return "stream.parallelReader" }

// Format prints String for every verb.
func (r *parallelReader) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// String describes the writer without its buffers.
func (w *encryptWriter) String() string { return "stream.encryptWriter" }

// Format prints String for every verb.
func (w *encryptWriter) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(w.String())) }

// String describes r by its plaintext size only.
func (r *ReaderAt) String() string { return fmt.Sprintf("stream.ReaderAt{Size: %d}", r.Size()) }

// Format prints String for every verb.
func (r *ReaderAt) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }
