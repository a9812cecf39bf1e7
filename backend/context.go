package backend

import (
	"fmt"
	"unicode/utf8"
)

// Validate returns an error wrapping ErrInvalidArgument if a key or value of
// ec is not valid UTF-8. Canonical maps every invalid sequence to U+FFFD, so
// two different invalid contexts would share one canonical form; backends
// refuse them (backendtest checks they are refused or bound exactly).
func (ec EncryptionContext) Validate() error {
	for k, v := range ec {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: encryption context keys and values must be valid UTF-8", ErrInvalidArgument)
		}
	}
	return nil
}
