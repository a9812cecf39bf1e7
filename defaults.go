package kms

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Defaults applied by DefaultConfig, and therefore to every field absent from
// JSON decoded into a Config (see Config.UnmarshalJSON), LoadConfig and
// ConfigFromEnv.
const (
	DefaultEnableCache     = true
	DefaultMaxCachedKeys   = 1000
	DefaultCacheTTLSeconds = 300
	DefaultTimeoutSeconds  = 30
	DefaultRetryAttempts   = 3
)

// Upper bounds accepted by Validate; they catch typos (a TTL in
// milliseconds, a timeout of a day) rather than limit real deployments.
const (
	MaxMaxCachedKeys   = 10_000_000
	MaxCacheTTLSeconds = 7 * 24 * 3600
	MaxTimeoutSeconds  = 3600
	MaxRetryAttempts   = 10
)

// DefaultConfig returns a Config with the documented defaults and no backend:
// enable_cache true, max_cached_keys 1000, cache_ttl_seconds 300,
// timeout_seconds 30, retry_attempts 3. Set BackendType and the backend's
// fields before Configure.
//
// Defaults and zero values: JSON decoded into a Config starts from
// DefaultConfig, so a field absent from the JSON keeps its default while an
// explicit value is taken as given and validated; an explicit 0 for
// max_cached_keys or cache_ttl_seconds with the cache enabled is therefore
// invalid. In a Config built in Go, the same rule holds for the cache fields
// (start from DefaultConfig). timeout_seconds 0 always means the default
// (DefaultTimeoutSeconds); retry_attempts 0 means no retries. Negative values
// are always invalid.
func DefaultConfig() Config {
	return Config{
		EnableCache:     DefaultEnableCache,
		MaxCachedKeys:   DefaultMaxCachedKeys,
		CacheTTLSeconds: DefaultCacheTTLSeconds,
		TimeoutSeconds:  DefaultTimeoutSeconds,
		RetryAttempts:   DefaultRetryAttempts,
	}
}

// UnmarshalJSON decodes c from a JSON object, starting from DefaultConfig so
// that absent fields take their defaults. Unknown fields are rejected (a
// misspelt field would otherwise be silently ignored), and errors name the
// field or offset, never a value. The result is not validated: Configure
// (or Validate) does that.
func (c *Config) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	cfg, err := decodeConfig(b)
	if err != nil {
		return err
	}
	*c = cfg
	return nil
}

// configFields is Config without its methods, so decoding it does not recurse
// into Config.UnmarshalJSON.
type configFields Config

func decodeConfig(b []byte) (Config, error) {
	v := configFields(DefaultConfig())
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return Config{}, &ConfigError{Problems: []FieldProblem{jsonProblem(err)}}
	}
	if dec.More() {
		return Config{}, &ConfigError{Problems: []FieldProblem{{Field: "", Problem: "trailing data after the JSON object"}}}
	}
	return Config(v), nil
}

// jsonProblem turns a decoding error into a FieldProblem that names the field
// (when known) and never echoes a value.
func jsonProblem(err error) FieldProblem {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return FieldProblem{Field: te.Field, Problem: fmt.Sprintf("wrong type, want %s", te.Type)}
	}
	// "json: unknown field \"x\"" names only the field (quoted, as encoding/json does).
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return FieldProblem{Field: "", Problem: "unknown field " + f}
	}
	return FieldProblem{Field: "", Problem: redactJSONError(err).Error()}
}
