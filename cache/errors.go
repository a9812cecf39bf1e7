package cache

import (
	"errors"
	"fmt"
)

// ErrInvalidConfig is wrapped by every *ConfigError.
var ErrInvalidConfig = errors.New("invalid cache config")

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string // Config field name, e.g. "MaxEntries"
	Reason string
}

// Error describes the failure; it never includes key material.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("cache: %v: %s: %s", ErrInvalidConfig, e.Field, e.Reason)
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
