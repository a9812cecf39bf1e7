package sse

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"go.opentelemetry.io/otel/metric"

	"github.com/envkms/kms/backend"
)

// Encryptor encrypts and decrypts objects with S3 SSE semantics. It is safe
// for concurrent use. Create it with New.
type Encryptor struct {
	km          KeyManager
	segmentSize int
	concurrency int
	bkConfig    bucketKeyConfig // options; see bucketkey.go
	bk          *bucketKeys
	// OpenTelemetry metrics; see metrics.go.
	meterProvider metric.MeterProvider
	inst          sseInstruments
	// pipeBufs recycles md5Pipe's gathering buffers (*[]byte, wiped).
	pipeBufs sync.Pool
	// Segment buffers come from stream's internal pool: sized to each
	// object, recycled, wiped of plaintext. A shared stream.BufferPool
	// would hold a whole 1 MiB segment per stream, even a 4 KiB one.
}

// Option configures an Encryptor.
type Option func(*Encryptor)

// WithSegmentSize sets the ciphertext segment size of new objects (default
// 1 MiB, stream.DefaultSegmentSize; stream.MinSegmentSize..MaxSegmentSize,
// 57 B..1 GiB). Existing objects record their own, so changing it never
// breaks reads.
func WithSegmentSize(n int) Option { return func(e *Encryptor) { e.segmentSize = n } }

// WithConcurrency sets how many goroutines, the caller's included, encrypt or
// decrypt the segments of one object (default 1).
func WithConcurrency(n int) Option { return func(e *Encryptor) { e.concurrency = n } }

// New returns an Encryptor that gets data keys from km (usually a
// *kms.Manager). km may be nil for a server that offers SSE-C only; SSE-S3
// and SSE-KMS requests then fail with ErrKMS.
func New(km KeyManager, opts ...Option) (*Encryptor, error) {
	e := &Encryptor{km: km, segmentSize: defaultSegmentSize, concurrency: 1}
	for _, o := range opts {
		if o != nil {
			o(e)
		}
	}
	if e.segmentSize < minSegmentSize || e.segmentSize > maxSegmentSize {
		return nil, errInvalidArgument(fmt.Sprintf("segment size must be %d..%d bytes", minSegmentSize, maxSegmentSize))
	}
	if e.concurrency < 1 {
		return nil, errInvalidArgument("concurrency must be at least 1")
	}
	bk, err := newBucketKeys(km, e.bkConfig)
	if err != nil {
		return nil, err
	}
	e.initMetrics()
	bk.inst = &e.inst
	e.bk = bk
	return e, nil
}

var errKeyIDMismatch = errors.New("recorded KMS key id differs from the key wrapping the data key")

// kmsContext is the encryption context of an object's data key: the object
// ARN plus the client's context (SSE-KMS).
func kmsContext(bucket, object string, client map[string]string) backend.EncryptionContext {
	ec := make(backend.EncryptionContext, len(client)+1)
	maps.Copy(ec, client)
	ec[contextKeyARN] = objectARN(bucket, object)
	return ec
}

// sealFor seals oek for bucket/object as req asks and returns the metadata
// (without parts). req must be valid and not KindNone.
func (e *Encryptor) sealFor(ctx context.Context, bucket, object string, req *Request, oek []byte, segmentSize int) (*objectMeta, error) {
	m := &objectMeta{kind: req.Kind, segmentSize: segmentSize}
	var kek []byte
	switch req.Kind {
	case KindC:
		kek = req.CustomerKey.bytes()
	case KindS3, KindKMS:
		if e.km == nil {
			return nil, errKMS(fmt.Errorf("no KMS configured"))
		}
		var client map[string]string
		if req.Kind == KindKMS {
			m.bucketKey = req.BucketKeyEnabled
			if v, ok := req.KMSContext[contextKeyARN]; ok && v != objectARN(bucket, object) {
				return nil, errInvalidArgument(msgBadContext)
			}
			client = maps.Clone(req.KMSContext)
			delete(client, contextKeyARN)
			if len(client) > 0 {
				m.kmsContext = client
			}
		}
		if e.useBucketKey(req) {
			if err := e.sealBucketKey(ctx, bucket, object, m, req.KMSKeyID, client, oek); err != nil {
				return nil, err
			}
			return m, nil
		}
		e.inst.add(e.inst.okCalls, req.Kind, opPut)
		dk, err := e.km.GenerateDataKey(ctx, req.KMSKeyID, kmsContext(bucket, object, client))
		if err != nil {
			return nil, errKMS(err)
		}
		defer dk.Zero()
		if len(dk.Plaintext) != backend.DataKeySize || len(dk.Ciphertext) == 0 || backend.ValidateKeyID(dk.KeyID) != nil {
			return nil, errKMS(fmt.Errorf("KMS returned a malformed data key"))
		}
		m.kmsKeyID = dk.KeyID
		m.wrappedKey = append([]byte(nil), dk.Ciphertext...)
		kek = dk.Plaintext
	default:
		return nil, errInvalidArgument(msgBadSSE)
	}
	sealed, err := sealOEK(kek, oek, kindName(m.kind), bucket, object)
	if err != nil {
		return nil, errTampered(err) // unreachable: HKDF and AES accept 32-byte keys
	}
	m.sealed = sealed
	return m, nil
}

// openKey returns the object key of an encrypted object. key is the SSE-C key
// of the request, if any; missing is the message for a missing one.
func (e *Encryptor) openKey(ctx context.Context, bucket, object string, m *objectMeta, key *CustomerKey, missing string) ([]byte, error) {
	if m.kind == KindC {
		if key == nil {
			return nil, errMissingKey(missing)
		}
		oek, err := openOEK(key.bytes(), m.sealed, kindNameC, bucket, object)
		if err != nil {
			// A wrong key and altered metadata look the same here.
			return nil, errWrongKey()
		}
		return oek, nil
	}
	if key != nil {
		return nil, errNotApplicable()
	}
	if e.km == nil {
		return nil, errKMS(fmt.Errorf("no KMS configured"))
	}
	if m.viaBucketKey {
		return e.openBucketKey(ctx, bucket, object, m)
	}
	e.inst.add(e.inst.okCalls, m.kind, opGet)
	dk, err := e.km.Decrypt(ctx, m.wrappedKey, kmsContext(bucket, object, m.kmsContext))
	if err != nil {
		return nil, errKMS(err)
	}
	defer dk.Zero()
	// The key id entry is not in the seal's associated data: check it names
	// the key that wraps the data key, so responses can't report another.
	if dk.KeyID != "" && dk.KeyID != m.kmsKeyID {
		return nil, errTampered(errKeyIDMismatch)
	}
	oek, err := openOEK(dk.Plaintext, m.sealed, kindName(m.kind), bucket, object)
	if err != nil {
		return nil, errTampered(err)
	}
	return oek, nil
}
