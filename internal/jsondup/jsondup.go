// Package jsondup refuses JSON objects that give a member twice.
// encoding/json keeps the last of them, and matches struct field names case-insensitively, so
// {"KeyId":"a","KEYID":"b"} would silently create key "b".

package jsondup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error says that a JSON object gives a member twice. It names
// the member by its path in the document, never a value; a duplicate map key
// (of encryption_context, Tags) is data, so only the map is named.
type Error struct {
	path   string // dotted path of the second occurrence, or of the map
	first  string // the first occurrence's path, when spelt otherwise
	mapKey bool   // a key of the map at path
}

// Error describes the duplicate by its path, never a value.
func (e *Error) Error() string {
	switch {
	case e.mapKey && e.path == "":
		return "invalid JSON: a key given twice"
	case e.mapKey:
		return "invalid JSON: a key of " + quotePath(e.path) + " given twice"
	case e.first != "":
		return "invalid JSON: field " + quotePath(e.path) + " given twice (also as " + quotePath(e.first) +
			": names that differ only in case are the same field)"
	}
	return "invalid JSON: field " + quotePath(e.path) + " given twice"
}

// quotePath quotes a path from the request, bounded in length: a long one
// keeps its end, which names the field.
func quotePath(p string) string {
	const maxLen = 64
	if len(p) > maxLen {
		cut := len(p) - maxLen
		for cut < len(p) && !utf8.RuneStart(p[cut]) {
			cut++
		}
		p = "..." + strings.TrimPrefix(p[cut:], ".")
	}
	return fmt.Sprintf("%q", p)
}

// Check returns a *Error for the first member that
// an object in body (one JSON value) gives twice, nil otherwise. Whether two
// names are the same member follows how encoding/json decodes body into a
// value of type t: the keys of an object decoded into a map are compared as
// they are (they are distinct entries); every other object's names,
// struct fields included, are compared as encoding/json matches field names,
// case-insensitively (a type with its own UnmarshalJSON, such as kms.Config,
// and an interface get that stricter rule). Syntax errors, and nesting
// deeper than the decoder accepts, are left to the decoder, which reads the
// same bytes. The work is linear in the body, which the handler bounds.
func Check(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers are not parsed (1e999 is the decoder's to refuse)
	type frame struct {
		seg     string            // how the parent reached it: name, "*" (map value), "[i]"
		object  bool              // else an array
		exact   bool              // map keys: compared as given
		t       reflect.Type      // the container's type; nil: not known
		seen    map[string]string // compared form → name as given
		wantKey bool              // an object's next token is a name
		member  reflect.Type      // type of the current member's value
		name    string            // the current member's segment
		index   int               // an array's next element
	}
	var stack []frame
	// path joins the segments from the top-level value down to last.
	path := func(last string) string {
		var b strings.Builder
		for _, f := range stack[1:] {
			writeSeg(&b, f.seg)
		}
		writeSeg(&b, last)
		return b.String()
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		d, isDelim := tok.(json.Delim)
		if isDelim && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return nil
			}
			continue
		}
		var vt reflect.Type
		var seg string
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			switch {
			case top.object && top.wantKey:
				name, _ := tok.(string)
				top.wantKey = false
				top.member = memberType(top.t, name)
				if top.exact {
					if _, dup := top.seen[name]; dup {
						return &Error{path: path(""), mapKey: true}
					}
					top.seen[name], top.name = "", "*"
					continue
				}
				k := foldName(name)
				if first, dup := top.seen[k]; dup {
					e := &Error{path: path(name)}
					if first != name {
						e.first = path(first)
					}
					return e
				}
				top.seen[k], top.name = name, name
				continue
			case top.object:
				vt, seg, top.wantKey = top.member, top.name, true
			default:
				if top.t != nil {
					vt = top.t.Elem()
				}
				seg = "[" + strconv.Itoa(top.index) + "]"
				top.index++
			}
		} else {
			vt = t
		}
		if !isDelim {
			if len(stack) == 0 {
				return nil // a scalar document
			}
			continue
		}
		if len(stack) >= maxJSONDepth {
			return nil // the decoder refuses it
		}
		f := frame{seg: seg, object: d == '{', wantKey: d == '{'}
		switch vt = jsonTarget(vt); {
		case vt == nil:
		case f.object && vt.Kind() == reflect.Map:
			f.t, f.exact = vt, true
		case f.object && vt.Kind() == reflect.Struct, !f.object && (vt.Kind() == reflect.Slice || vt.Kind() == reflect.Array):
			f.t = vt
		}
		if f.object {
			f.seen = map[string]string{}
		}
		stack = append(stack, f)
	}
}

// maxJSONDepth is the nesting encoding/json decodes (deeper: "exceeded max
// depth").
const maxJSONDepth = 10000

func writeSeg(b *strings.Builder, seg string) {
	if seg == "" {
		return
	}
	if b.Len() > 0 && seg[0] != '[' {
		b.WriteByte('.')
	}
	b.WriteString(seg)
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// jsonTarget is the type whose JSON form an object or array decodes into,
// or nil when that is not known: an interface, or a type with its own
// UnmarshalJSON.
func jsonTarget(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface || t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	return t
}

// memberType is the type the value of member name of an object decoded into
// t has, or nil when not known.
func memberType(t reflect.Type, name string) reflect.Type {
	switch {
	case t == nil:
		return nil
	case t.Kind() == reflect.Map:
		return t.Elem()
	case t.Kind() == reflect.Struct:
		var folded reflect.Type
		for _, f := range reflect.VisibleFields(t) {
			if !f.IsExported() || f.Anonymous && f.Tag.Get("json") == "" {
				continue
			}
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if tag == "-" {
				continue
			}
			fname := f.Name
			if tag != "" {
				fname = tag
			}
			if fname == name {
				return f.Type
			}
			if folded == nil && foldName(fname) == foldName(name) {
				folded = f.Type
			}
		}
		return folded
	}
	return nil
}

// foldName folds s as encoding/json folds field names for matching:
// foldName(a) == foldName(b) exactly when bytes.EqualFold(a, b).
func foldName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			continue
		}
		// The smallest rune of its fold set (K, k and the Kelvin sign alike).
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b.WriteRune(r)
	}
	return b.String()
}
