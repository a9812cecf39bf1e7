package admin

import (
	"encoding/json"
	"errors"
	"github.com/envkms/kms/internal/jsondup"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms"
)

type dupInner struct {
	A int    `json:"a"`
	B string `json:"B"`
}

type dupDoc struct {
	Name  string              `json:"name"`
	M     map[string]dupInner `json:"m"`
	List  []dupInner          `json:"list"`
	Ptr   *dupInner           `json:"ptr"`
	Any   any                 `json:"any"`
	Raw   json.RawMessage     `json:"raw"`
	Skip  string              `json:"-"`
	Plain int
	dupEmbedded
}

type dupEmbedded struct {
	E map[string]string `json:"e"`
}

func TestCheckDuplicates(t *testing.T) {
	typ := reflect.TypeFor[*dupDoc]()
	for _, tc := range []struct {
		doc  string
		want string // "" = no duplicate
	}{
		{`{"name":"a","m":{"x":{"a":1},"X":{"a":2}},"list":[{"a":1},{"a":2}]}`, ""},
		{`{"name":"a","NAME":"b"}`, `field "NAME" given twice (also as "name"`},
		{`{"m":{"x":{"a":1},"x":{"a":2}}}`, `a key of "m" given twice`},
		{`{"m":{"x":{"a":1,"A":2}}}`, `field "m.*.A" given twice`},
		{`{"list":[{"a":1},{"B":"x","b":"y"}]}`, `field "list[1].b" given twice`},
		{`{"ptr":{"a":1,"a":1}}`, `field "ptr.a" given twice`},
		{`{"any":{"k":1,"K":2}}`, `field "any.K" given twice`}, // interface: the stricter rule
		{`{"raw":{"k":1,"k":2}}`, `field "raw.k" given twice`}, // own UnmarshalJSON: likewise
		{`{"e":{"k":"1","K":"2"}}`, ""},                        // promoted map field
		{`{"e":{"k":"1","k":"2"}}`, `a key of "e" given twice`},
		{`{"Plain":1,"plain":2}`, `field "plain" given twice`},
		{`{"name":"a"} {"name":"b","name":"c"}`, ""}, // only the first value (trailing data is the decoder's)
		{`{"name":"a","name"`, `field "name" given twice`},
		{`{"name" "a","name":"b"}`, ""}, // syntax error: the decoder's
		{`"name"`, ""},
		{`[{"a":1,"a":2}]`, `field "[0].a" given twice`},
		{`{}`, ""},
		{`{"name":1e999,"NaMe":2}`, `given twice`},
	} {
		err := jsondup.Check([]byte(tc.doc), typ)
		if tc.want == "" {
			require.NoError(t, err, tc.doc)
			continue
		}
		var de *jsondup.Error
		require.True(t, errors.As(err, &de), "%s: %v", tc.doc, err)
		require.Contains(t, err.Error(), tc.want, tc.doc)
	}

	// kms.Config decodes itself: its names are compared case-insensitively.
	require.Error(t, jsondup.Check([]byte(`{"key_dir":"/a","KEY_DIR":"/b"}`), reflect.TypeFor[*kms.Config]()))
	require.NoError(t, jsondup.Check([]byte(`{"key_dir":"/a","master_key":"m"}`), reflect.TypeFor[*kms.Config]()))

	// Nesting costs no stack: a duplicate is found as deep as the decoder
	// goes, and beyond that the decoder refuses the body.
	deep := strings.Repeat(`{"a":`, 9000) + `{"x":1,"X":2}` + strings.Repeat(`}`, 9000)
	err := jsondup.Check([]byte(deep), reflect.TypeFor[any]())
	require.ErrorContains(t, err, `given twice`)
	require.Less(t, len(err.Error()), 300)
	require.Regexp(t, `^invalid JSON: field "\.\.\.a(\.a)*\.X" given twice \(also as "\.\.\.a(\.a)*\.x"`, err.Error())
	deep = strings.Repeat(`{"a":`, 200_000) + `{"x":1,"X":2}` + strings.Repeat(`}`, 200_000)
	require.NoError(t, jsondup.Check([]byte(deep), reflect.TypeFor[any]()))
	require.ErrorContains(t, decodeStrict([]byte(deep), new(any)), "invalid JSON")
	deep = strings.Repeat("[", 500_000) + strings.Repeat("]", 500_000)
	require.NoError(t, jsondup.Check([]byte(deep), reflect.TypeFor[any]()))
}

// The path is bounded in the message, and values never appear in it.
func TestDuplicateFieldMessage(t *testing.T) {
	long := strings.Repeat("n", 200)
	err := jsondup.Check([]byte(`{"`+long+`":"v4lue","`+long+`":"v4lue"}`), reflect.TypeFor[any]())
	require.Error(t, err)
	require.Less(t, len(err.Error()), 150)
	require.NotContains(t, err.Error(), "v4lue")
	err = jsondup.Check([]byte(`{"m":{"s3cr3t":1,"s3cr3t":2}}`), reflect.TypeFor[dupDoc]())
	require.EqualError(t, err, `invalid JSON: a key of "m" given twice`)
}

// What the check guards against: encoding/json keeps the last duplicate
// and matches field names case-insensitively.
func TestEncodingJSONLastWins(t *testing.T) {
	var v struct {
		KeyID string `json:"KeyId"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"KeyId":"c","KEYID":"d"}`), &v))
	require.Equal(t, "d", v.KeyID)
	require.NoError(t, json.Unmarshal([]byte(`{"KeyId":"c","\u212aeyId":"e"}`), &v))
	require.Equal(t, "e", v.KeyID)
	require.Error(t, decodeStrict([]byte(`{"KeyId":"c","KEYID":"d"}`), &v))
}
