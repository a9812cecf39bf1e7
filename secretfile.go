package kms

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// maxSecretFileSize bounds secret files (master_key_file); a secret is a
// line, not a document.
const maxSecretFileSize = 64 << 10

// readSecretFile reads a secret from path, dropping trailing line breaks
// (files written by `echo` or editors end in one). Errors are a *ConfigError
// for field that names the path and the failure, never the contents. The
// caller owns, and must clear, the returned bytes.
func readSecretFile(field, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, secretFileError(field, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileSize+1))
	if err != nil {
		clear(b)
		return nil, secretFileError(field, err)
	}
	if len(b) > maxSecretFileSize {
		clear(b)
		return nil, &ConfigError{Problems: []FieldProblem{{Field: field, Problem: fmt.Sprintf("file larger than %d bytes", maxSecretFileSize)}}}
	}
	s := bytes.TrimRight(b, "\r\n")
	if len(s) == 0 {
		clear(b)
		return nil, &ConfigError{Problems: []FieldProblem{{Field: field, Problem: "file is empty"}}}
	}
	return s, nil
}

func secretFileError(field string, err error) error {
	// *fs.PathError names the operation, the path and the errno; no contents.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &ConfigError{Problems: []FieldProblem{{Field: field, Problem: fmt.Sprintf("cannot read %s: %v", pe.Path, pe.Err)}}}
	}
	return &ConfigError{Problems: []FieldProblem{{Field: field, Problem: "cannot read the file"}}}
}
