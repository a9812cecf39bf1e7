// Package local is a backend.Backend that keeps master keys in a local
// directory: for development and single-node deployments.
//
// # Key directory
//
// [New] opens (or creates, mode 0700) the directory Config.Dir:
//
//	.keydir.json   header: format version, Argon2id parameters and salt, and a
//	               verifier (a known block sealed under the derived key)
//	<key id>.json  one file per key (mode 0600): metadata and key versions
//	.tmp-*         temporary files of writes in progress; ignored
//
// Key material is 32 random bytes per key version, sealed at rest with
// AES-256-GCM under a key derived once per New from Config.MasterKey with
// Argon2id (parameters and salt from the header; [DefaultKDFParams] for new
// directories) and HKDF-SHA256. Each sealed version is bound to its key id
// and version number, and each key file carries an HMAC-SHA256 over its
// content, so neither key material nor metadata (state, deletion date, ...)
// can be edited, swapped between keys or moved between directories without
// detection (someone who can write the directory can still delete a key
// file or restore an older copy of it: keep the directory private). A wrong master key fails New with [ErrWrongMasterKey] (checked
// against the verifier); nothing else is touched. Config.InsecurePlaintext
// stores key material unsealed instead, for development only; the header
// records which mode a directory uses and New refuses the other
// ([ErrProtectionMismatch]).
//
// Writes are crash-safe: a temporary file in the directory, fsync, rename
// over the key file (a hard link for new keys, so an existing key is never
// replaced), fsync of the directory. A crash leaves the old or the new file,
// never a torn one; stale temporary files are removed by a later New.
//
// A key file that is truncated, malformed, tampered with, or foreign yields a
// [*FileError] naming the file (wrapping [ErrCorruptFile]) for calls on that
// key only; other keys keep working, and ListKeys skips it (logging a
// warning) rather than failing.
//
// # Data keys
//
// GenerateDataKey returns 32 random bytes wrapped with AES-256-GCM under the
// key's newest version. The associated data is the ciphertext header (key id
// and version) and the length-prefixed canonical encryption context
// (backend.EncryptionContext.Canonical; strings must be valid UTF-8, since the
// canonical JSON form would not tell invalid ones apart). The ciphertext is a
// versioned binary blob that names its key and version, so Decrypt needs
// nothing else:
//
//	0x4c 0x01 | len(key id) | key id | uint32 version | 12-byte nonce | 48-byte sealed key
//
// AES-GCM cannot tell a wrong encryption context from a damaged ciphertext:
// Decrypt reports both as backend.ErrInvalidCiphertext. Random 96-bit nonces
// bound each key version to about 2^32 data keys; rotate well before that.
//
// # Lifecycle
//
// ScheduleKeyDeletion only records the deletion date. Keys are destroyed by
// [Backend.Purge], which deletes the files of keys whose date has passed;
// nothing calls it automatically, so operators run it explicitly (e.g. a
// daily job) once nothing depends on those keys.
//
// # Sharing a directory
//
// Any number of Backends may use one directory at once, in one process (as
// during a Manager hot swap) or in several processes on one host (flock(2)
// on Unix; elsewhere only one Backend at a time). Every update (CreateKey,
// RotateKey, state changes, Purge) holds the directory lock .keydir.lock
// exclusively from re-reading the key file to the fsync of the directory
// after its rename, so no update is lost and none works on a stale copy.
// Loads hold it shared, so no Backend reads a rename that is not yet
// durable. Before serving a cached key, a Backend checks (one lstat) that the
// key file is still the one it loaded and reloads it otherwise, so every
// data key it returns is wrapped under a version that is on disk, and a
// state change made through another Backend takes effect at once. Waiting
// for the lock honours the call's context.
//
// # Unlock cost
//
// The Argon2id parameters come from the directory header, which is read
// before the master key can be checked; whoever can write the directory (or
// point key_dir at one) chooses them. New refuses parameters above
// Config.MaxKDF (DefaultMaxKDFParams: 10 passes, 256 MiB, 16 threads) with
// ErrKDFTooCostly, and returns when its context ends even while Argon2id
// runs.
package local
