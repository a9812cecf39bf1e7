// Package admin serves the KMS admin REST API as an http.Handler: configure,
// start, stop and inspect a kms.Manager, manage master keys and issue data
// keys, with the JSON shapes of the reference system's admin API.
//
// Authentication is a hook (WithAuthenticator); SigV4 adapts a
// sigv4.Verifier (AWS Signature Version 4 on the AWS SDK's signer), so
// operator tooling such as awscurl keeps working. Authorization is a second
// hook (WithAuthorizer): every endpoint needs an Action (kms:CreateKey,
// kms:Decrypt, ...), per-key ones on the key's resource
// arn:aws:kms:::key/<id>; Policy is a ready role-based Authorizer loaded
// from JSON, with the roles administrator, key-administrator, key-user and
// auditor. Every call is audit-logged with log/slog: principal, action,
// operation, key id, resource, outcome and status, never bodies; a denial
// is a 403 logged with outcome "denied".
package admin
