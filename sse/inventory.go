package sse

import (
	"context"
	"errors"
	"fmt"

	"github.com/envkms/kms/backend"
)

// KeyDependency is what one object needs from the KMS to be read: the
// master key, and the version of it, that wraps its key. A storage server
// collects them over its objects (an inventory) to know which key versions
// are still needed, and which objects a bulk rekey must move.
type KeyDependency struct {
	// Kind is the object's encryption: KindS3 or KindKMS depend on
	// KMSKeyID; KindC on the customer's key only; KindNone: not encrypted.
	Kind Kind `json:"kind"`
	// KMSKeyID is the master key wrapping the object's key ("" for SSE-C
	// and unencrypted objects).
	KMSKeyID string `json:"kms_key_id,omitempty"`
	// KeyVersion is the version of KMSKeyID that wraps it, from 1; 0 when
	// the KeyManager cannot tell without decrypting (it does not implement
	// CiphertextVersioner; *kms.Manager does for the local, vault and
	// memory backends).
	KeyVersion int `json:"key_version,omitempty"`
	// BucketKey: the wrapped key is a bucket key, shared by the bucket's
	// objects written under it (format version 2), not the object's own
	// data key.
	BucketKey bool `json:"bucket_key,omitempty"`
}

// CiphertextVersioner is optionally implemented by a KeyManager that can
// tell which master key and key version a data-key ciphertext names without
// decrypting it (*kms.Manager does, through its backend).
type CiphertextVersioner interface {
	CiphertextVersion(ciphertext []byte) (keyID string, version int, err error)
}

// BatchRewrapper is optionally implemented by a KeyManager that rewraps
// data keys to their master key's newest version in batches (*kms.Manager
// does: backend.BatchRewrapper, Vault's transit batch_input).
type BatchRewrapper interface {
	RewrapBatch(ctx context.Context, items []backend.RewrapItem) ([]backend.RewrapResult, error)
}

// Rewrapper is optionally implemented by a KeyManager that rewraps one data
// key at a time (*kms.Manager does).
type Rewrapper interface {
	Rewrap(ctx context.Context, ciphertext []byte, ec backend.EncryptionContext) ([]byte, error)
}

// KeyDependency reports what the object with metadata meta depends on,
// without calling the KMS for anything but (if it can) reading the version
// a ciphertext names. Unencrypted metadata is Kind KindNone and no error.
// Corrupt metadata fails with ErrCorruptMetadata; a ciphertext that names
// another master key than the one recorded with ErrTampered.
func (e *Encryptor) KeyDependency(meta map[string]string) (KeyDependency, error) {
	m, err := decodeMeta(meta)
	if err != nil {
		return KeyDependency{}, err
	}
	return e.dependency(m)
}

func (e *Encryptor) dependency(m *objectMeta) (KeyDependency, error) {
	if m == nil {
		return KeyDependency{Kind: KindNone}, nil
	}
	d := KeyDependency{Kind: m.kind}
	if m.kind == KindC {
		return d, nil
	}
	d.KMSKeyID, d.BucketKey = m.kmsKeyID, m.viaBucketKey
	v, err := e.ciphertextVersion(m.kmsKeyID, m.wrappedKey)
	d.KeyVersion = v
	return d, err
}

// ciphertextVersion returns the version ct names (0 if the KeyManager can't
// tell), checking it names keyID.
func (e *Encryptor) ciphertextVersion(keyID string, ct []byte) (int, error) {
	cv, ok := e.km.(CiphertextVersioner)
	if !ok {
		return 0, nil
	}
	id, v, err := cv.CiphertextVersion(ct)
	switch {
	case errors.Is(err, backend.ErrInvalidCiphertext):
		return 0, errTampered(err)
	case err != nil:
		// The KeyManager can't tell for this backend (or is not running).
		return 0, nil
	case id != keyID:
		return 0, errTampered(errKeyIDMismatch)
	}
	return v, nil
}

// ObjectRef names one object of a batch and holds its metadata.
type ObjectRef struct {
	Bucket, Object string
	Meta           map[string]string
}

// RekeyResult is the outcome of one ObjectRef of RekeyBatch.
type RekeyResult struct {
	// Meta is the object's new metadata, to store in place of the old
	// (its payload is unchanged); nil when nothing was to be done (SSE-C
	// and unencrypted objects) or on error.
	Meta map[string]string
	// Before and After are the object's dependencies before and after
	// (After is Before when Meta is nil).
	Before, After KeyDependency
	// Err is why this object could not be rekeyed; the others are not
	// affected.
	Err error
}

// RekeyBatch moves the objects' KMS-wrapped keys (SSE-S3 and SSE-KMS, data
// keys and bucket keys) to their master keys' newest versions: the wrapped
// key is rewrapped under the same encryption context, without the data key
// leaving the KMS and without touching the payloads. It is the bulk form of
// Rekey after a master key rotation, for a storage server's rekey job.
//
// The KeyManager's RewrapBatch (BatchRewrapper) is used when it has one,
// in chunks of backend.MaxRewrapBatch, else its Rewrap (Rewrapper) once
// per key; with neither, RekeyBatch fails with ErrKMS. Objects sharing one
// wrapped bucket key (same bucket, key and context) are rewrapped together
// once. SSE-C and unencrypted objects need nothing (Meta nil). One result
// per ref, in order; the error return is for what fails the whole batch
// (the KMS unreachable, ctx done).
//
// After a rotation, call ClearBucketKeys too, so new objects stop being
// sealed under a bucket key of the old version.
func (e *Encryptor) RekeyBatch(ctx context.Context, refs []ObjectRef) ([]RekeyResult, error) {
	out := make([]RekeyResult, len(refs))
	type pending struct {
		keyID string
		refs  []int
	}
	metas := make([]*objectMeta, len(refs))
	var (
		items []backend.RewrapItem
		work  []pending
		index = map[string]int{} // bucket-key dedup: wrapped key + context -> work index
	)
	for i, ref := range refs {
		m, err := decodeMeta(ref.Meta)
		if err != nil {
			out[i].Err = err
			continue
		}
		d, err := e.dependency(m)
		out[i].Before, out[i].After = d, d
		if err != nil {
			out[i].Err = err
			continue
		}
		if m == nil || m.kind == KindC {
			continue
		}
		metas[i] = m
		var ec backend.EncryptionContext
		if m.viaBucketKey {
			ec = bucketKeyContext(ref.Bucket, m.kmsContext)
			k := string(m.wrappedKey) + "\x00" + string(ec.Canonical())
			if j, ok := index[k]; ok {
				work[j].refs = append(work[j].refs, i)
				continue
			}
			index[k] = len(work)
		} else {
			ec = kmsContext(ref.Bucket, ref.Object, m.kmsContext)
		}
		items = append(items, backend.RewrapItem{Ciphertext: m.wrappedKey, Context: ec})
		work = append(work, pending{keyID: m.kmsKeyID, refs: []int{i}})
	}
	res, err := e.rewrapAll(ctx, items)
	if err != nil {
		return nil, err
	}
	for j, w := range work {
		r := res[j]
		for _, i := range w.refs {
			if r.Err != nil {
				out[i].Err = errKMS(r.Err)
				continue
			}
			v, err := e.ciphertextVersion(w.keyID, r.Ciphertext)
			if err != nil {
				out[i].Err = err
				continue
			}
			nm := *metas[i]
			nm.wrappedKey = r.Ciphertext
			meta := withoutSSE(refs[i].Meta)
			nm.encode(meta)
			out[i].Meta = meta
			out[i].After.KeyVersion = v
		}
	}
	return out, nil
}

// rewrapAll rewraps items with the KeyManager's batch or single Rewrap.
func (e *Encryptor) rewrapAll(ctx context.Context, items []backend.RewrapItem) ([]backend.RewrapResult, error) {
	if len(items) == 0 {
		return nil, nil
	}
	if br, ok := e.km.(BatchRewrapper); ok {
		out := make([]backend.RewrapResult, 0, len(items))
		for off := 0; off < len(items); off += backend.MaxRewrapBatch {
			chunk := items[off:min(off+backend.MaxRewrapBatch, len(items))]
			res, err := br.RewrapBatch(ctx, chunk)
			if err != nil {
				return nil, errKMS(err)
			}
			if len(res) != len(chunk) {
				return nil, errKMS(fmt.Errorf("KMS answered %d results for %d keys", len(res), len(chunk)))
			}
			out = append(out, res...)
		}
		return out, nil
	}
	rw, ok := e.km.(Rewrapper)
	if !ok {
		return nil, errKMS(errors.New("the KeyManager cannot rewrap data keys"))
	}
	out := make([]backend.RewrapResult, len(items))
	for i, it := range items {
		ct, err := rw.Rewrap(ctx, it.Ciphertext, it.Context)
		if err != nil && (errors.Is(err, backend.ErrUnavailable) || ctx.Err() != nil) {
			return nil, errKMS(err)
		}
		out[i] = backend.RewrapResult{Ciphertext: ct, Err: err}
	}
	return out, nil
}
