package s3srv

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/envkms/kms/admin"
	"github.com/envkms/kms/sigv4"
)

// DefaultUserRole is the admin role of Config.UserAccessKey when
// Config.UserRole is empty.
const DefaultUserRole = admin.RoleKeyUser

// validateUser checks the second (non-admin) credential of c.
func (c *Config) validateUser() error {
	if c.UserAccessKey == "" && c.UserSecretKey == "" {
		if c.UserRole != "" {
			return errors.Join(ErrConfig, errors.New("UserRole needs UserAccessKey and UserSecretKey"))
		}
		return nil
	}
	switch {
	case (c.UserAccessKey == "") != (c.UserSecretKey == ""):
		return errors.Join(ErrConfig, errors.New("set both UserAccessKey and UserSecretKey, or neither"))
	case c.AccessKey == "":
		return errors.Join(ErrConfig, errors.New("UserAccessKey needs AccessKey and SecretKey (the admin credential)"))
	case c.UserAccessKey == c.AccessKey:
		return errors.Join(ErrConfig, errors.New("UserAccessKey must differ from AccessKey"))
	}
	if c.UserRole == "" {
		c.UserRole = DefaultUserRole
	}
	switch c.UserRole {
	case admin.RoleKeyUser, admin.RoleAuditor, admin.RoleKeyAdministrator:
	default:
		return errors.Join(ErrConfig, fmt.Errorf("UserRole %q: want %s, %s or %s",
			c.UserRole, admin.RoleKeyUser, admin.RoleAuditor, admin.RoleKeyAdministrator))
	}
	return nil
}

// credentials returns the SigV4 secret lookup over the configured
// credentials (the admin's and, if set, the user's).
func (c *Config) credentials() func(accessKey string) (string, bool) {
	ak, sk, uak, usk := c.AccessKey, c.SecretKey, c.UserAccessKey, c.UserSecretKey
	return func(accessKey string) (string, bool) {
		switch {
		case accessKey == ak:
			return sk, true
		case uak != "" && accessKey == uak:
			return usk, true
		}
		return "", false
	}
}

// adminAuthorizer returns the admin API's role policy: AccessKey is an
// administrator, UserAccessKey holds UserRole. Nil without a user
// credential: the one credential is then the admin and may call everything.
func (c *Config) adminAuthorizer() (admin.Authorizer, error) {
	if c.UserAccessKey == "" {
		return nil, nil
	}
	doc, err := json.Marshal(map[string]any{"principals": map[string][]string{
		c.AccessKey:     {admin.RoleAdministrator},
		c.UserAccessKey: {c.UserRole},
	}})
	if err != nil {
		return nil, err
	}
	return admin.ParsePolicy(doc)
}

// adminAuthenticator verifies admin requests (signed payloads only: admin
// bodies decide what happens, so the signature must cover them).
// Principal.Admin is set for AccessKey only; with a user credential the
// role policy (adminAuthorizer) decides.
func (c *Config) adminAuthenticator() admin.Authenticator {
	ak := c.AccessKey
	return admin.SigV4(sigv4.NewVerifier(c.credentials(), sigv4.WithSignedPayload()),
		func(accessKey string) bool { return accessKey == ak })
}

// adminOptions returns the admin handler options that depend on the
// credentials.
func (c *Config) adminOptions() ([]admin.Option, error) {
	az, err := c.adminAuthorizer()
	if err != nil || az == nil {
		return nil, err
	}
	return []admin.Option{admin.WithAuthorizer(az)}, nil
}
