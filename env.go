package kms

import (
	"os"
	"strconv"
	"strings"
)

// DefaultEnvPrefix is the environment variable prefix ConfigFromEnv uses
// when given "".
const DefaultEnvPrefix = "KMS_"

// ConfigFromEnv returns base overlaid with the environment variables below
// (shown with the default prefix "KMS_"; a non-empty prefix replaces it, e.g.
// "MYAPP_KMS_" reads MYAPP_KMS_BACKEND). A variable that is unset or set to
// the empty string leaves the field as in base. Start from DefaultConfig (or
// a LoadConfig result) as base.
//
//	Variable                          Config field (JSON name)
//	KMS_BACKEND                       backend_type ("local" | "vault")
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
//	KMS_ENABLE_CACHE                  enable_cache (bool)
//	KMS_MAX_CACHED_KEYS               max_cached_keys (int)
//	KMS_CACHE_TTL_SECONDS             cache_ttl_seconds (int)
//	KMS_TIMEOUT_SECONDS               timeout_seconds (int)
//	KMS_RETRY_ATTEMPTS                retry_attempts (int)
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

	if v, ok := e.str("BACKEND"); ok {
		c.BackendType = BackendType(strings.ToLower(strings.TrimSpace(v)))
	}
	e.setStr("KEY_DIR", &c.KeyDir)
	mk, mkOK := e.str("MASTER_KEY")
	mkf, mkfOK := e.str("MASTER_KEY_FILE")
	switch {
	case mkOK && mkfOK:
		e.problem("MASTER_KEY_FILE", "set only one of "+e.name("MASTER_KEY")+" and "+e.name("MASTER_KEY_FILE"))
	case mkOK:
		c.MasterKey, c.MasterKeyFile = Secret(mk), ""
	case mkfOK:
		c.MasterKey, c.MasterKeyFile = "", mkf
	}
	e.setBool("INSECURE_PLAINTEXT_KEYS", &c.InsecurePlaintextKeys)
	e.setStr("DEFAULT_KEY_ID", &c.DefaultKeyID)

	e.setStr("VAULT_ADDR", &c.Address)
	e.auth(&c)
	e.setStr("VAULT_NAMESPACE", &c.Namespace)
	e.setStr("VAULT_MOUNT_PATH", &c.MountPath)
	e.setStr("VAULT_KV_MOUNT", &c.KVMount)
	e.setStr("VAULT_KEY_PATH_PREFIX", &c.KeyPathPrefix)
	tls := TLSConfig{}
	if c.TLS != nil {
		tls = *c.TLS
	}
	n := len(e.seen)
	e.setStr("VAULT_CACERT", &tls.CAFile)
	e.setStr("VAULT_CLIENT_CERT", &tls.ClientCert)
	e.setStr("VAULT_CLIENT_KEY", &tls.ClientKey)
	e.setBool("VAULT_SKIP_VERIFY", &tls.SkipTLSVerify)
	if len(e.seen) > n {
		c.TLS = &tls
	}

	e.setBool("ENABLE_CACHE", &c.EnableCache)
	e.setInt("MAX_CACHED_KEYS", &c.MaxCachedKeys)
	e.setInt("CACHE_TTL_SECONDS", &c.CacheTTLSeconds)
	e.setInt("TIMEOUT_SECONDS", &c.TimeoutSeconds)
	e.setInt("RETRY_ATTEMPTS", &c.RetryAttempts)

	if err := e.problems.err(); err != nil {
		return Config{}, err
	}
	return c, nil
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
	case tokOK && tokfOK:
		e.problem("VAULT_TOKEN_FILE", "set only one of "+e.name("VAULT_TOKEN")+" and "+e.name("VAULT_TOKEN_FILE"))
	case tokOK:
		c.AuthMethod = &AuthMethod{Token: Secret(tok)}
	case tokfOK:
		c.AuthMethod = &AuthMethod{TokenFile: tokf}
	case sidOK && sidfOK:
		e.problem("VAULT_APPROLE_SECRET_ID_FILE", "set only one of "+e.name("VAULT_APPROLE_SECRET_ID")+" and "+e.name("VAULT_APPROLE_SECRET_ID_FILE"))
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

// envReader reads prefixed variables and collects problems.
type envReader struct {
	prefix   string
	lookup   func(string) (string, bool)
	seen     []string
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
	e.seen = append(e.seen, suffix)
	return v, true
}

func (e *envReader) setStr(suffix string, dst *string) {
	if v, ok := e.str(suffix); ok {
		*dst = v
	}
}

func (e *envReader) setBool(suffix string, dst *bool) {
	if v, ok := e.str(suffix); ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			e.problem(suffix, "not a boolean (want true or false)")
			return
		}
		*dst = b
	}
}

func (e *envReader) setInt(suffix string, dst *int) {
	if v, ok := e.str(suffix); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			e.problem(suffix, "not an integer")
			return
		}
		*dst = n
	}
}
