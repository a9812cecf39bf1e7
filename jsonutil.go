package kms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// redactJSONError turns a JSON decoding error into one that names the field or
// offset but never echoes input values (which may be secrets).
func redactJSONError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("field %q: wrong type, want %s", te.Field, te.Type)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("truncated JSON")
	default:
		// "json: unknown field \"x\"" names only the field.
		return err
	}
}
