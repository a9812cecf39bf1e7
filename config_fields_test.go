package kms

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every Config field is declared once with its JSON name and environment
// variable, and has its ConfigPatch twin; this test fails when a new field
// misses one of them.
func TestConfigFieldsComplete(t *testing.T) {
	ct, pt := reflect.TypeFor[Config](), reflect.TypeFor[ConfigPatch]()
	require.Equal(t, ct.NumField(), pt.NumField(), "ConfigPatch mirrors Config")
	for i := range ct.NumField() {
		f := ct.Field(i)
		require.NotEmpty(t, f.Tag.Get("json"), f.Name)
		require.NotEmpty(t, f.Tag.Get("env"), "%s: env tag (or \"-\")", f.Name)
		p, ok := pt.FieldByName(f.Name)
		require.True(t, ok, "ConfigPatch.%s", f.Name)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		pname, _, _ := strings.Cut(p.Tag.Get("json"), ",")
		require.Equal(t, name, pname, f.Name)
		if f.Type.Kind() == reflect.Pointer || f.Type.Kind() == reflect.Slice {
			require.Equal(t, f.Type, p.Type, f.Name)
		} else {
			require.Equal(t, reflect.PointerTo(f.Type), p.Type, f.Name)
		}
	}
}

// Every env tag is read by ConfigFromEnv and documented in its godoc table.
func TestConfigFromEnvReadsEveryTag(t *testing.T) {
	vars := map[string]string{}
	var walk func(reflect.Type, string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("env")
			if tag == "" || tag == "-" {
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
				walk(ft.Elem(), prefix+tag)
				continue
			}
			v := "x"
			switch {
			case ft == reflect.TypeFor[BackendOptions]():
				v = `{"a":1}`
			case ft.Kind() == reflect.Int:
				v = "7"
			case ft.Kind() == reflect.Bool, ft.Kind() == reflect.Pointer:
				v = "true"
			}
			vars[DefaultEnvPrefix+prefix+tag] = v
		}
	}
	walk(reflect.TypeFor[Config](), "")
	// The pairs that exclude each other: keep one of each.
	delete(vars, DefaultEnvPrefix+"MASTER_KEY_FILE")
	c, err := configFromLookup("", Config{}, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	require.NoError(t, err)
	cv := reflect.ValueOf(c)
	for i := range cv.NumField() {
		f := cv.Type().Field(i)
		if tag := f.Tag.Get("env"); tag == "-" || f.Name == "MasterKeyFile" {
			continue
		}
		require.False(t, cv.Field(i).IsZero(), "%s not read from the environment", f.Name)
	}
	require.Equal(t, "true", map[bool]string{true: "true"}[c.TLS.SkipTLSVerify])
	src := readSource(t, "config_env.go")
	for k := range vars {
		require.Contains(t, src, "//\t"+k+" ", "ConfigFromEnv's doc lists %s", k)
	}
}

func readSource(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return strings.ReplaceAll(string(b), "\r", "")
}
