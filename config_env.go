package kms

import (
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// DefaultEnvPrefix is the environment variable prefix ConfigFromEnv uses
// when given "".
const DefaultEnvPrefix = "KMS_"

// ConfigFromEnv returns base overlaid with the environment variables below
// (shown with the default prefix "KMS_"; a non-empty prefix replaces it, e.g.
// "MYAPP_KMS_" reads MYAPP_KMS_BACKEND). A variable that is unset or set to
// the empty string leaves the field as in base. Each Config field names its
// variable in its env tag.
//
//	Variable                          Config field (JSON name)
//	KMS_BACKEND                       backend_type ("local" | "vault" | registered)
//	KMS_KEY_DIR                       key_dir
//	KMS_MASTER_KEY                    master_key (clears master_key_file)
//	KMS_MASTER_KEY_FILE               master_key_file (clears master_key); preferred
//	KMS_INSECURE_PLAINTEXT_KEYS       insecure_plaintext_keys (bool; development only)
//	KMS_DEFAULT_KEY_ID                default_key_id
//	KMS_VAULT_ADDR                    address
//	KMS_VAULT_TOKEN                   auth_method = {"token": ...}
//	KMS_VAULT_TOKEN_FILE              auth_method = {"token_file": ...}; preferred
//	KMS_VAULT_APPROLE_ROLE_ID         auth_method.approle.role_id
//	KMS_VAULT_APPROLE_SECRET_ID       auth_method.approle.secret_id (clears secret_id_file)
//	KMS_VAULT_APPROLE_SECRET_ID_FILE  auth_method.approle.secret_id_file (clears secret_id); preferred
//	KMS_VAULT_APPROLE_MOUNT_PATH      auth_method.approle.mount_path
//	KMS_VAULT_NAMESPACE               namespace
//	KMS_VAULT_MOUNT_PATH              mount_path (transit mount)
//	KMS_VAULT_KV_MOUNT                kv_mount
//	KMS_VAULT_KEY_PATH_PREFIX         key_path_prefix
//	KMS_VAULT_CACERT                  tls.ca_file
//	KMS_VAULT_CLIENT_CERT             tls.client_cert
//	KMS_VAULT_CLIENT_KEY              tls.client_key
//	KMS_VAULT_SKIP_VERIFY             tls.skip_tls_verify (bool)
//	KMS_BACKEND_OPTIONS               backend_options (JSON)
//	KMS_ENABLE_CACHE                  enable_cache (bool)
//	KMS_MAX_CACHED_KEYS               max_cached_keys (int)
//	KMS_CACHE_TTL_SECONDS             cache_ttl_seconds (int)
//	KMS_TIMEOUT_SECONDS               timeout_seconds (int)
//	KMS_RETRY_ATTEMPTS                retry_attempts (int; -1 for none)
//
// Booleans are those strconv.ParseBool accepts (1/0, true/false, ...).
// Setting a token variable replaces base's auth_method with a token method;
// setting an AppRole variable switches it to AppRole, keeping base's AppRole
// fields the environment doesn't set. Setting both a token and an AppRole
// variable, or a secret and its _FILE variant, is an error.
//
// Errors are a *ConfigError whose Field is the variable name; they never
// include a value. The result is not validated: Configure does that.
func ConfigFromEnv(prefix string, base Config) (Config, error) {
	return configFromLookup(prefix, base, os.LookupEnv)
}

func configFromLookup(prefix string, base Config, lookup func(string) (string, bool)) (Config, error) {
	if prefix == "" {
		prefix = DefaultEnvPrefix
	}
	e := envReader{prefix: prefix, lookup: lookup}
	c := base.clone()
	e.exclusive("MASTER_KEY", "MASTER_KEY_FILE")
	e.exclusive("VAULT_APPROLE_SECRET_ID", "VAULT_APPROLE_SECRET_ID_FILE")
	e.exclusive("VAULT_TOKEN", "VAULT_TOKEN_FILE")
	e.fields(reflect.ValueOf(&c).Elem(), "")
	if e.seen["BACKEND"] {
		c.BackendType = BackendType(strings.ToLower(strings.TrimSpace(string(c.BackendType))))
	}
	// A secret given one way replaces the other.
	switch {
	case e.seen["MASTER_KEY"]:
		c.MasterKeyFile = ""
	case e.seen["MASTER_KEY_FILE"]:
		c.MasterKey = ""
	}
	e.auth(&c)
	if err := e.problems.err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// envReader reads prefixed variables and collects problems.
type envReader struct {
	prefix   string
	lookup   func(string) (string, bool)
	seen     map[string]bool
	problems problems
}

func (e *envReader) name(suffix string) string { return e.prefix + suffix }

func (e *envReader) problem(suffix, msg string) { e.problems.add(e.name(suffix), msg) }

// str returns the variable's value and whether it is set and non-empty.
func (e *envReader) str(suffix string) (string, bool) {
	v, ok := e.lookup(e.name(suffix))
	if !ok || v == "" {
		return "", false
	}
	if e.seen == nil {
		e.seen = map[string]bool{}
	}
	e.seen[suffix] = true
	return v, true
}

// exclusive records a problem when both variables are set.
func (e *envReader) exclusive(a, b string) {
	_, aOK := e.lookup(e.name(a))
	_, bOK := e.lookup(e.name(b))
	if aOK && bOK && e.nonEmpty(a) && e.nonEmpty(b) {
		e.problem(b, "set only one of "+e.name(a)+" and "+e.name(b))
	}
}

func (e *envReader) nonEmpty(suffix string) bool {
	v, ok := e.lookup(e.name(suffix))
	return ok && v != ""
}

// fields overlays the variables named by the env tags of struct v's fields
// (prefix prepended); a pointer-to-struct field's tag is its fields'
// prefix, and the struct is allocated only when one of them is set.
func (e *envReader) fields(v reflect.Value, prefix string) bool {
	set := false
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		tag := sf.Tag.Get("env")
		if tag == "" || tag == "-" {
			continue
		}
		f := v.Field(i)
		if f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct {
			tmp := reflect.New(f.Type().Elem())
			if !f.IsNil() {
				tmp.Elem().Set(f.Elem())
			}
			if e.fields(tmp.Elem(), prefix+tag) {
				f.Set(tmp)
				set = true
			}
			continue
		}
		if e.field(f, prefix+tag) {
			set = true
		}
	}
	return set
}

// field parses one variable into f by f's kind.
func (e *envReader) field(f reflect.Value, suffix string) bool {
	s, ok := e.str(suffix)
	if !ok {
		return false
	}
	switch {
	case f.Type() == reflect.TypeFor[BackendOptions]():
		if !json.Valid([]byte(s)) {
			e.problem(suffix, "not valid JSON")
			return false
		}
		f.SetBytes([]byte(s))
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Bool, f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			e.problem(suffix, "not a boolean (want true or false)")
			return false
		}
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.ValueOf(&b))
		} else {
			f.SetBool(b)
		}
	case f.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			e.problem(suffix, "not an integer")
			return false
		}
		f.SetInt(int64(n))
	default:
		panic("kms: internal error: env tag on a field of kind " + f.Kind().String())
	}
	return true
}

// auth overlays the Vault auth variables onto c.AuthMethod.
func (e *envReader) auth(c *Config) {
	tok, tokOK := e.str("VAULT_TOKEN")
	tokf, tokfOK := e.str("VAULT_TOKEN_FILE")
	role, roleOK := e.str("VAULT_APPROLE_ROLE_ID")
	sid, sidOK := e.str("VAULT_APPROLE_SECRET_ID")
	sidf, sidfOK := e.str("VAULT_APPROLE_SECRET_ID_FILE")
	mount, mountOK := e.str("VAULT_APPROLE_MOUNT_PATH")
	tokenSet := tokOK || tokfOK
	appRoleSet := roleOK || sidOK || sidfOK || mountOK
	switch {
	case tokenSet && appRoleSet:
		e.problem("VAULT_TOKEN", "set either the token or the AppRole variables, not both")
	case tokOK && tokfOK, sidOK && sidfOK:
		// reported by exclusive
	case tokOK:
		c.AuthMethod = &AuthMethod{Token: Secret(tok)}
	case tokfOK:
		c.AuthMethod = &AuthMethod{TokenFile: tokf}
	case appRoleSet:
		r := AppRole{}
		if c.AuthMethod != nil && c.AuthMethod.AppRole != nil {
			r = *c.AuthMethod.AppRole
		}
		if roleOK {
			r.RoleID = role
		}
		if sidOK {
			r.SecretID, r.SecretIDFile = Secret(sid), ""
		}
		if sidfOK {
			r.SecretID, r.SecretIDFile = "", sidf
		}
		if mountOK {
			r.MountPath = mount
		}
		c.AuthMethod = &AuthMethod{AppRole: &r}
	}
}
