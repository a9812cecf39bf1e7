package kms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"

	"github.com/envkms/kms/internal/jsondup"
)

// Secret is a string that never reveals itself: String, GoString, every fmt
// verb and MarshalJSON yield "[REDACTED]" (or "" when empty). Use Reveal to
// read the value.
type Secret string

const redacted = "[REDACTED]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[REDACTED]" for a non-empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is like String.
func (s Secret) GoString() string { return s.String() }

// Format prints the redacted form for every verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON marshals the redacted form, so a Config never serialises a secret.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads the secret value from a JSON string.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		// A type error (which encoding/json completes with the field name)
		// that does not quote the value.
		return &json.UnmarshalTypeError{Value: "non-string", Type: reflect.TypeFor[string]()}
	}
	*s = Secret(v)
	return nil
}

// BackendOptions is a registered backend's own settings: a JSON value kept
// as given, for its factory to decode. Like Secret it never prints or
// marshals its contents ("[REDACTED]"), since it may hold credentials.
type BackendOptions []byte

// Decode unmarshals the options into v, rejecting unknown fields and
// trailing data. Empty options leave v unchanged. Errors name the field or
// offset, never a value.
func (o BackendOptions) Decode(v any) error {
	if len(o) == 0 {
		return nil
	}
	if err := jsondup.Check(o, reflect.TypeOf(v)); err != nil {
		return &ConfigError{Problems: []FieldProblem{{Field: "backend_options", Problem: err.Error()}}}
	}
	dec := json.NewDecoder(bytes.NewReader(o))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &ConfigError{Problems: []FieldProblem{{Field: "backend_options", Problem: redactJSONError(err).Error()}}}
	}
	if dec.More() {
		return &ConfigError{Problems: []FieldProblem{{Field: "backend_options", Problem: "trailing data after the JSON value"}}}
	}
	return nil
}

// String returns "[REDACTED]" for non-empty options.
func (o BackendOptions) String() string { return Secret(o).String() }

// GoString is like String.
func (o BackendOptions) GoString() string { return o.String() }

// Format prints the redacted form for every verb.
func (o BackendOptions) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(o.String())) }

// MarshalJSON marshals the redacted form.
func (o BackendOptions) MarshalJSON() ([]byte, error) { return json.Marshal(o.String()) }

// UnmarshalJSON keeps a copy of the JSON value (null means none).
func (o *BackendOptions) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*o = nil
		return nil
	}
	*o = BackendOptions(bytes.Clone(b))
	return nil
}

// UnmarshalJSON decodes c from a JSON object. Absent fields stay zero, which
// means their defaults (see Config). Unknown fields are rejected (a misspelt
// field would otherwise be silently ignored), and errors name the field or
// offset, never a value. The result is not validated: Configure (or
// Validate) does that.
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
	var v configFields
	if err := jsondup.Check(b, reflect.TypeFor[*configFields]()); err != nil {
		return Config{}, &ConfigError{Problems: []FieldProblem{{Problem: err.Error()}}}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return Config{}, &ConfigError{Problems: []FieldProblem{jsonProblem(err)}}
	}
	if dec.More() {
		return Config{}, &ConfigError{Problems: []FieldProblem{{Field: "", Problem: "trailing data after the JSON object"}}}
	}
	return Config(v), nil
}

// UnmarshalJSON decodes p like Config (unknown fields and fields given twice,
// in any case, are errors), leaving absent fields nil.
func (p *ConfigPatch) UnmarshalJSON(b []byte) error {
	type patchFields ConfigPatch
	if err := jsondup.Check(b, reflect.TypeFor[*patchFields]()); err != nil {
		return &ConfigError{Problems: []FieldProblem{{Problem: err.Error()}}}
	}
	var v patchFields
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return &ConfigError{Problems: []FieldProblem{jsonProblem(err)}}
	}
	if dec.More() {
		return &ConfigError{Problems: []FieldProblem{{Field: "", Problem: "trailing data after the JSON object"}}}
	}
	*p = ConfigPatch(v)
	return nil
}

// UnmarshalJSON accepts "token" as a string or as {"token": "..."}.
func (a *AuthMethod) UnmarshalJSON(b []byte) error {
	var raw struct {
		Token     json.RawMessage `json:"token"`
		TokenFile string          `json:"token_file"`
		AppRole   *AppRole        `json:"approle"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("auth_method: %w", redactJSONError(err))
	}
	*a = AuthMethod{TokenFile: raw.TokenFile, AppRole: raw.AppRole}
	if len(raw.Token) == 0 || string(raw.Token) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw.Token, &s); err == nil {
		a.Token = Secret(s)
		return nil
	}
	var obj struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(raw.Token, &obj); err != nil {
		return fmt.Errorf("auth_method.token: want a string or {\"token\": string}")
	}
	a.Token = Secret(obj.Token)
	return nil
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

// Config, ConfigPatch, AuthMethod and AppRole print as their JSON form with
// secrets redacted, for every fmt verb. (Without this, a verb such as %s or
// %x on a struct holding a pointer to one of them would make fmt print the
// pointed-to struct raw, bypassing Secret's own redaction.)

// String returns c's JSON form with secrets redacted.
func (c Config) String() string { return redactedJSON("kms.Config", configFields(c)) }

// GoString is like String.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb.
func (c Config) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// String returns p's JSON form with secrets redacted.
func (p ConfigPatch) String() string { return redactedJSON("kms.ConfigPatch", p) }

// GoString is like String.
func (p ConfigPatch) GoString() string { return p.String() }

// Format prints String for every verb.
func (p ConfigPatch) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(p.String())) }

// String returns a's JSON form with secrets redacted.
func (a AuthMethod) String() string { return redactedJSON("kms.AuthMethod", a) }

// GoString is like String.
func (a AuthMethod) GoString() string { return a.String() }

// Format prints String for every verb.
func (a AuthMethod) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(a.String())) }

// String returns r's JSON form with secrets redacted.
func (r AppRole) String() string { return redactedJSON("kms.AppRole", r) }

// GoString is like String.
func (r AppRole) GoString() string { return r.String() }

// Format prints String for every verb.
func (r AppRole) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// redactedJSON marshals v, whose Secret fields marshal as "[REDACTED]".
func redactedJSON(name string, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return name + "{?}"
	}
	return name + string(b)
}

// maxConfigFileSize bounds LoadConfig's read; a KMS config is a few hundred
// bytes.
const maxConfigFileSize = 1 << 20

// LoadConfig reads a Config from a JSON file with the same field names as the
// admin API's configure request (see Config). Absent fields mean their
// defaults; unknown fields are an error. Errors name the file and the
// offending field or offset but never echo a value.
//
// LoadConfig does not validate (so that ConfigFromEnv can still supply, say,
// the master key); Configure does, or call Config.Validate. Secrets are
// better kept out of the file: use master_key_file, auth_method.token_file or
// auth_method.approle.secret_id_file, which are read at Start.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("kms: load config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("kms: load config %s: %w", path, err)
	}
	defer clear(b) // the file may hold secrets
	if len(b) > maxConfigFileSize {
		return Config{}, fmt.Errorf("kms: load config %s: %w", path, &ConfigError{Problems: []FieldProblem{{Problem: fmt.Sprintf("file larger than %d bytes", maxConfigFileSize)}}})
	}
	c, err := decodeConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("kms: load config %s: %w", path, err)
	}
	return c, nil
}

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
