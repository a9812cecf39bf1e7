// Package vault is a backend.Backend whose master keys live in HashiCorp
// Vault's transit secrets engine and never leave it.
//
// # How it works
//
//   - A master key is a transit key of type aes256-gcm96 (not derived, not
//     exportable), named by the key id, at <MountPath>/keys/<id>.
//   - GenerateDataKey draws 32 bytes from crypto/rand in this process and
//     seals them with <MountPath>/encrypt/<id>, passing the encryption
//     context's canonical form (backend.EncryptionContext.Canonical) as
//     associated_data. Decrypt calls <MountPath>/decrypt/<id> with the same
//     associated_data, so a data key opens only with the context it was made
//     with. (transit/datakey takes no associated_data, hence local
//     generation.)
//   - The ciphertext ("blob") is text: "evt1:<key id>:vault:v<N>:<base64>",
//     so it names its key and version and Decrypt needs nothing else.
//   - Rewrap decrypts and re-encrypts inside the backend and zeroes the
//     plaintext; transit/rewrap is not used because it ignores
//     associated_data (Vault issues #29532, #31791).
//   - RotateKey is transit rotation; old blobs keep decrypting, and
//     KeyMetadata.Version is the transit key's latest_version.
//   - What transit cannot hold — description, tags, usage, state
//     (Enabled/Disabled/PendingDeletion), creation and deletion dates — is a
//     JSON record in KV version 2 at <KVMount>/data/<KeyPathPrefix>/<id>,
//     written with check-and-set (cas) so concurrent administrators never
//     lose each other's updates: a cas conflict re-reads and re-applies.
//     ListKeys lists <KVMount>/metadata/<KeyPathPrefix>. The
//     backend.KeyEditor methods ([Backend.UpdateKeyDescription],
//     [Backend.TagKey], [Backend.UntagKey]) update the record the same way.
//   - The backend enforces states itself: GenerateDataKey and Rewrap need an
//     Enabled key; Decrypt works for Enabled and Disabled keys and is refused
//     while PendingDeletion. Data-key calls trust a state read from KV for
//     up to one second (changes made through the same Backend apply at once;
//     see [Backend.DisableKey]).
//
// # Scheduled deletion and Purge
//
// ScheduleKeyDeletion only records a deletion date 7..30 days ahead. Key
// material is destroyed by [Backend.Purge], an explicit operator call (for
// example a daily job), which deletes the transit keys and metadata of every
// key whose date has passed. Until then CancelKeyDeletion saves the key; as in
// AWS KMS it comes back Disabled, so an operator must EnableKey it on purpose
// before it wraps new data keys.
// A purged id is tombstoned in KV (FORMAT.md) and never re-created:
// CreateKey with it fails with backend.ErrKeyDeleted.
//
// # Rotation policy
//
// A key's RotationPeriod (CreateKeyRequest.RotationPeriod,
// [Backend.SetRotationPeriod]) is transit's auto_rotate_period: Vault
// rotates the key itself once its latest version is that old (it checks
// about once an hour), with no goroutine here. DescribeKey reads it back
// and reports RotationDue when the latest version is older than the
// period, or once this Backend has wrapped backend.MaxDataKeysPerVersion
// data keys under it (counted per process, as the local backend does;
// Vault does not rotate on that count, an operator or a RotateKey does).
//
// # Authentication and transport
//
// Config takes a token, a token file (re-read when Vault answers 403, so a
// Vault Agent sink works) or AppRole credentials. With AppRole the backend
// logs in at New, renews the token with renew-self at two thirds of its
// lease, and logs in again when renewal fails or the token nears its max TTL;
// a goroutine does this until Close. Namespace, TLS (CA file, client
// certificate, skip-verify) and a per-call Timeout are honoured; idempotent
// requests (reads, encrypt/decrypt, health) are retried RetryAttempts times on
// transport errors and 5xx within that Timeout. The process environment
// (VAULT_ADDR, VAULT_TOKEN, ...) is not consulted.
//
// Errors are *backend.Error values wrapping the backend sentinels:
// unreachable, timed out, 5xx or sealed → backend.ErrUnavailable; 403 →
// backend.ErrAccessDenied; unknown key → backend.ErrKeyNotFound; wrong
// context or tampered blob → backend.ErrInvalidCiphertext. They name the
// Vault path and status but never a token, secret id, request body or
// plaintext.
//
// # Vault policy
//
// A least-privilege policy for a server that only uses keys:
//
//	path "transit/encrypt/*" { capabilities = ["update"] }
//	path "transit/decrypt/*" { capabilities = ["update"] }
//	path "secret/data/envkms/keys/*" { capabilities = ["read"] }
//
// Granting only "update" (not "create") on transit/encrypt stops Vault from
// silently creating a missing transit key on encrypt ("upsert"); setting
// transit/config/keys disable_upsert=true does the same mount-wide.
// Administration (CreateKey, RotateKey, state changes, ListKeys) also needs
// "create", "update", "read" on transit/keys/* and on the KV data path,
// "update" on transit/keys/*/rotate and transit/keys/*/config (rotation
// period; DestroyKeyVersions also on transit/keys/*/trim), and "list" on
// secret/metadata/envkms/keys; Purge needs what its documentation lists.
//
// # Vault HA
//
// Config takes one Address. For an HA cluster (integrated Raft storage),
// point it at a load balancer in front of all nodes that health-checks
// GET /v1/sys/health with Vault's default answers (200 only from the
// active node) and sends a request to another node when it cannot connect
// to one; a standby reached meanwhile forwards to the active node or
// redirects to it. When the active node dies, calls fail with
// backend.ErrUnavailable until a new leader is elected (about 2 s with raft
// performance_multiplier = 1); a kms.Manager's circuit breaker, once open,
// fails them for its whole cool-down (5 s by default). Avoid ?standbyok=true
// checks: a node that has just unsealed passes them before it knows the
// active node and answers 500 for a moment, which fails CreateKey and
// RotateKey (never retried). internal/e2e/vault_ha_test.go tests this.
//
// # Backup and restore
//
// The vault backend does not implement backend.Backupper: kms.Manager.Backup
// and Restore answer kms.ErrUnsupported for it (the admin API's kms/backup
// and kms/restore endpoints answer 400), and it invents no mechanism of its
// own. Transit's per-key export, GET <MountPath>/backup/<name> and
// POST <MountPath>/restore/<name>, works only on keys created with
// allow_plaintext_backup=true and exportable=true, which this backend sets
// false on purpose (CreateKey; an existing transit key of the same name that
// is exportable is refused), since such a backup carries the plaintext key
// material. Back the keys up with Vault's own storage snapshots instead:
// with integrated (Raft) storage, "vault operator raft snapshot save
// <file>" (and "vault operator raft snapshot restore <file>"; Vault
// Enterprise can schedule them with automated snapshots), which cover the
// transit keys and the KV metadata records together; their contents stay
// encrypted under Vault's barrier, so a restore needs the unseal (or
// auto-unseal) keys of the cluster they came from;
// with another storage backend, that backend's own backup. After a Vault
// restore, call kms.Manager.ClearCache: cached data keys and key states
// may be those of keys the snapshot does not have.
//
// # Trying it against a dev server
//
//	vault server -dev -dev-root-token-id=root &
//	export VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root
//	vault secrets enable transit          # KV v2 is at secret/ in dev mode
//	go run ./examples/vault
//
// The Vault server used by this module's tests is built by
// internal/e2e/vaultserver.sh (Vault v1.19.0).
package vault
