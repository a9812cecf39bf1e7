// Package admin serves the KMS admin REST API as an http.Handler: configure,
// start, stop and inspect a kms.Manager, manage master keys and issue data
// keys, with the JSON shapes of the reference system's admin API.
//
// Authentication is a hook (WithAuthenticator); SigV4 adapts a
// sigv4.Verifier (AWS Signature Version 4 on the AWS SDK's signer), so
// operator tooling such as awscurl keeps working. Every call is audit-logged
// with log/slog: principal, action, key id, outcome and status, never bodies.
package admin
