package admin

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// Built-in roles of a Policy. Their grants are fixed; a policy file
// assigns them to principals and may define roles of its own beside them.
const (
	// RoleAdministrator may do everything: kms:* on every resource.
	RoleAdministrator = "administrator"
	// RoleKeyAdministrator manages keys (create, describe, list, enable,
	// disable, rotate, delete and cancel deletion, tag, untag, describe)
	// but can neither use them (no GenerateDataKey or Decrypt) nor control
	// the service (configure, start, stop, backup, restore, clear cache).
	RoleKeyAdministrator = "key-administrator"
	// RoleKeyUser uses keys: GenerateDataKey, Decrypt and DescribeKey on
	// any key, and nothing else (not even ListKeys).
	RoleKeyUser = "key-user"
	// RoleAuditor reads key metadata: ListKeys and DescribeKey; no call
	// that returns key material or changes anything.
	RoleAuditor = "auditor"
)

// Statement effects.
const (
	EffectAllow = "Allow"
	EffectDeny  = "Deny"
)

// Statement grants or denies actions on resources. Actions and resources
// are patterns in which '*' matches any run of characters (so "kms:*"
// is every action, "kms:Describe*" DescribeKey, and
// "arn:aws:kms:::key/app-*" every key whose id begins with "app-").
type Statement struct {
	Effect    string   `json:"effect"`    // Allow or Deny
	Actions   []string `json:"actions"`   // e.g. ["kms:GenerateDataKey", "kms:Decrypt"]
	Resources []string `json:"resources"` // e.g. ["arn:aws:kms:::key/app-*"]; ResourceAll for service-wide actions
}

// Role is a named list of statements.
type Role struct {
	Statements []Statement `json:"statements"`
}

// Policy is a role-based Authorizer: principals (by access key) hold roles,
// roles hold statements. A call is allowed when a statement of one of the
// principal's roles allows its action on its resource and none denies it
// (a Deny wins); everything else is denied. Principal.Admin is ignored. A
// Policy is immutable and safe for concurrent use.
//
// Its JSON form (ParsePolicy, LoadPolicy):
//
//	{
//	  "roles": {
//	    "app-key-user": {"statements": [
//	      {"effect": "Allow", "actions": ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"],
//	       "resources": ["arn:aws:kms:::key/app-*"]}
//	    ]}
//	  },
//	  "principals": {
//	    "ops-admin":  ["administrator"],
//	    "key-admin":  ["key-administrator"],
//	    "s3-server":  ["key-user"],
//	    "app-server": ["app-key-user"],
//	    "audit":      ["auditor"]
//	  }
//	}
//
// "roles" is optional and may not redefine a built-in role (RoleAdministrator,
// RoleKeyAdministrator, RoleKeyUser, RoleAuditor). Unknown fields, members
// given twice, unknown actions, effects other than Allow and Deny, resources
// not under "arn:aws:kms:::" (or "*"), and principals naming undefined roles
// are errors.
type Policy struct {
	roles      map[string]Role
	principals map[string][]string
}

type policyFile struct {
	Roles      map[string]Role     `json:"roles"`
	Principals map[string][]string `json:"principals"`
}

// maxPolicyBytes bounds a policy file.
const maxPolicyBytes = 1 << 20

// builtinRoles returns the built-in roles.
func builtinRoles() map[string]Role {
	all := []string{ResourceAll}
	return map[string]Role{
		RoleAdministrator: {Statements: []Statement{{Effect: EffectAllow, Actions: []string{"kms:*"}, Resources: all}}},
		RoleKeyAdministrator: {Statements: []Statement{{Effect: EffectAllow, Actions: []string{
			string(ActionCreateKey), string(ActionDescribeKey), string(ActionListKeys),
			string(ActionEnableKey), string(ActionDisableKey), string(ActionRotateKey),
			string(ActionDeleteKey), string(ActionTagResource), string(ActionUntagResource),
			string(ActionUpdateKeyDescription),
		}, Resources: all}}},
		RoleKeyUser: {Statements: []Statement{{Effect: EffectAllow, Actions: []string{
			string(ActionGenerateDataKey), string(ActionDecrypt), string(ActionDescribeKey),
		}, Resources: []string{keyResourcePrefix + "*"}}}},
		RoleAuditor: {Statements: []Statement{{Effect: EffectAllow, Actions: []string{
			string(ActionListKeys), string(ActionDescribeKey),
		}, Resources: all}}},
	}
}

// ParsePolicy parses a policy in the JSON form described on Policy.
func ParsePolicy(data []byte) (*Policy, error) {
	if len(data) > maxPolicyBytes {
		return nil, fmt.Errorf("admin: policy: larger than %d bytes", maxPolicyBytes)
	}
	var f policyFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("admin: policy: %s", jsonErrorText(err))
	}
	p := &Policy{roles: builtinRoles(), principals: map[string][]string{}}
	for _, name := range sortedKeys(f.Roles) {
		if _, ok := p.roles[name]; ok {
			return nil, fmt.Errorf("admin: policy: role %s is built in and cannot be redefined", quoteField(name))
		}
		if name == "" {
			return nil, fmt.Errorf("admin: policy: a role has an empty name")
		}
		r := f.Roles[name]
		if len(r.Statements) == 0 {
			return nil, fmt.Errorf("admin: policy: role %s has no statements", quoteField(name))
		}
		for i, st := range r.Statements {
			if err := st.check(); err != nil {
				return nil, fmt.Errorf("admin: policy: role %s statement %d: %w", quoteField(name), i, err)
			}
		}
		p.roles[name] = r
	}
	for _, who := range sortedKeys(f.Principals) {
		if who == "" {
			return nil, fmt.Errorf("admin: policy: a principal has an empty access key")
		}
		roles := f.Principals[who]
		if len(roles) == 0 {
			return nil, fmt.Errorf("admin: policy: principal %s has no roles", quoteField(who))
		}
		for _, r := range roles {
			if _, ok := p.roles[r]; !ok {
				return nil, fmt.Errorf("admin: policy: principal %s: no role %s", quoteField(who), quoteField(r))
			}
		}
		p.principals[who] = slices.Clone(roles)
	}
	return p, nil
}

// LoadPolicy reads and parses a policy file (see Policy).
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("admin: load policy: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("admin: load policy %s: %w", path, err)
	}
	return p, nil
}

func (st Statement) check() error {
	if st.Effect != EffectAllow && st.Effect != EffectDeny {
		return fmt.Errorf("effect must be %s or %s", EffectAllow, EffectDeny)
	}
	if len(st.Actions) == 0 || len(st.Resources) == 0 {
		return fmt.Errorf("actions and resources must not be empty")
	}
	for _, a := range st.Actions {
		if !slices.ContainsFunc(Actions(), func(x Action) bool { return match(a, string(x)) }) {
			return fmt.Errorf("action %s matches no action", quoteField(a))
		}
	}
	for _, r := range st.Resources {
		if r != "*" && !strings.HasPrefix(r, "arn:aws:kms:::") {
			return fmt.Errorf("resource %s is neither \"*\" nor an arn:aws:kms::: resource", quoteField(r))
		}
	}
	return nil
}

// Roles returns the roles a policy gives accessKey, in policy order.
func (p *Policy) Roles(accessKey string) []string { return slices.Clone(p.principals[accessKey]) }

// PolicyError is a Policy's denial. Its text names the principal, action,
// resource and the deciding role; it never holds a secret.
type PolicyError struct {
	Principal string
	Action    Action
	Resource  string
	DeniedBy  string // the role whose Deny statement matched; "" when nothing allowed
}

func (e *PolicyError) Error() string {
	if e.DeniedBy != "" {
		return fmt.Sprintf("policy: %s on %s denied to %s by role %s", e.Action, e.Resource, quoteField(e.Principal), e.DeniedBy)
	}
	return fmt.Sprintf("policy: no role of %s allows %s on %s", quoteField(e.Principal), e.Action, e.Resource)
}

// Unwrap makes a PolicyError match ErrForbidden.
func (e *PolicyError) Unwrap() error { return ErrForbidden }

// Authorize implements Authorizer.
func (p *Policy) Authorize(_ context.Context, pr Principal, action Action, resource string) error {
	allowed := false
	for _, name := range p.principals[pr.AccessKey] {
		for _, st := range p.roles[name].Statements {
			if !st.matches(action, resource) {
				continue
			}
			if st.Effect == EffectDeny {
				return &PolicyError{Principal: pr.AccessKey, Action: action, Resource: resource, DeniedBy: name}
			}
			allowed = true
		}
	}
	if !allowed {
		return &PolicyError{Principal: pr.AccessKey, Action: action, Resource: resource}
	}
	return nil
}

func (st Statement) matches(action Action, resource string) bool {
	return slices.ContainsFunc(st.Actions, func(a string) bool { return match(a, string(action)) }) &&
		slices.ContainsFunc(st.Resources, func(r string) bool { return match(r, resource) })
}

// match reports whether s matches pattern, in which '*' matches any run of
// characters (including none) and every other character itself.
func match(pattern, s string) bool {
	// Iterative glob with backtracking to the last '*'.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
