package kms

import (
	"encoding/json"
	"fmt"
)

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
