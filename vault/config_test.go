package vault

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/envkms/kms/backend"
)

func TestConfigDefaultsAndValidation(t *testing.T) {
	c, err := Config{Address: "http://127.0.0.1:8200", Token: "t"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.MountPath != "transit" || c.KVMount != "secret" || c.KeyPathPrefix != "envkms/keys" ||
		c.Timeout != DefaultTimeout || c.RetryAttempts != DefaultRetryAttempts || c.Logger == nil {
		t.Fatalf("defaults not applied: %v", c)
	}
	c, err = Config{Address: "https://v:8200", AppRole: &AppRole{RoleID: "r", SecretIDFile: "/f"},
		MountPath: "/kms/transit/", RetryAttempts: -1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.AppRole.MountPath != "approle" || c.MountPath != "kms/transit" || c.RetryAttempts != 0 {
		t.Fatalf("got %v", c)
	}

	ok := Config{Address: "http://127.0.0.1:8200", Token: "t"}
	for name, mod := range map[string]func(*Config){
		"no address":          func(c *Config) { c.Address = "" },
		"bad scheme":          func(c *Config) { c.Address = "ftp://x" },
		"no host":             func(c *Config) { c.Address = "http://" },
		"no auth":             func(c *Config) { c.Token = "" },
		"two auths":           func(c *Config) { c.TokenFile = "/t" },
		"approle no role":     func(c *Config) { c.Token, c.AppRole = "", &AppRole{SecretID: "s"} },
		"approle no secret":   func(c *Config) { c.Token, c.AppRole = "", &AppRole{RoleID: "r"} },
		"approle two secrets": func(c *Config) { c.Token, c.AppRole = "", &AppRole{RoleID: "r", SecretID: "s", SecretIDFile: "/f"} },
		"dotdot mount":        func(c *Config) { c.MountPath = "../sys" },
		"empty segment":       func(c *Config) { c.KeyPathPrefix = "a//b" },
		"query in kv mount":   func(c *Config) { c.KVMount = "secret?x=1" },
		"bad namespace":       func(c *Config) { c.Namespace = "a/../b" },
		"half client cert":    func(c *Config) { c.TLS.ClientCert = "/c" },
		"negative timeout":    func(c *Config) { c.Timeout = -time.Second },
		"too many retries":    func(c *Config) { c.RetryAttempts = 11 },
	} {
		c := ok
		mod(&c)
		if _, err := c.withDefaults(); !errors.Is(err, backend.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	const tok, sid = "hvs.TOPSECRET", "SECRETID-42"
	c := Config{Address: "http://v", Token: tok, AppRole: &AppRole{RoleID: "role-7", SecretID: sid}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		for _, v := range []any{c, &c, *c.AppRole, c.AppRole, []Config{c}, map[string]Config{"a": c}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, tok) || strings.Contains(out, sid) {
				t.Fatalf("%s of %T reveals a secret: %s", verb, v, out)
			}
		}
	}
	if !strings.Contains(c.String(), "role-7") || !strings.Contains(c.String(), "[REDACTED]") {
		t.Fatalf("String lost the useful parts: %s", c)
	}
	_, err := Config{Address: "x", Token: tok, AppRole: &AppRole{SecretID: sid}}.withDefaults()
	if err == nil || strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), sid) {
		t.Fatalf("validation error: %v", err)
	}
}
