package sse

import (
	"context"

	"github.com/envkms/kms/backend"
)

// Kind is a server-side encryption type, as named by S3.
type Kind string

// Encryption kinds. The string values of KindS3 and KindKMS are the values of
// the x-amz-server-side-encryption header.
const (
	KindNone Kind = ""        // not encrypted by this package
	KindS3   Kind = "AES256"  // SSE-S3: keys managed by the server's default KMS key
	KindKMS  Kind = "aws:kms" // SSE-KMS: keys managed by a named KMS key
	KindC    Kind = "SSE-C"   // SSE-C: customer-provided key, never stored
)

// Request is a parsed server-side encryption request: what a PutObject,
// CreateMultipartUpload or CopyObject (destination) asked for.
type Request struct {
	Kind             Kind
	KMSKeyID         string            // SSE-KMS only; "" means the KMS default key
	KMSContext       map[string]string // SSE-KMS only; x-amz-server-side-encryption-context
	BucketKeyEnabled bool              // SSE-KMS: seal under an S3 Bucket Key (bucketkey.go); SSE-S3 always does
	CustomerKey      *CustomerKey      // SSE-C only

	// bucketKeySet: the request gave the bucket-key header (ParsePut), so
	// OrDefault keeps BucketKeyEnabled instead of taking the bucket's.
	bucketKeySet bool
}

// KeyManager is the part of *kms.Manager this package uses. Any
// implementation must bind ec to the data key as authenticated data.
type KeyManager interface {
	// GenerateDataKey returns a fresh 32-byte data key under keyID ("" =
	// the default key) bound to ec.
	GenerateDataKey(ctx context.Context, keyID string, ec backend.EncryptionContext) (backend.DataKey, error)
	// Decrypt unwraps a data key made by GenerateDataKey with the same ec.
	Decrypt(ctx context.Context, ciphertext []byte, ec backend.EncryptionContext) (backend.DataKey, error)
}

// Part is one part of a completed multipart object.
type Part struct {
	Number int   // part number, 1..MaxPartNumber
	Size   int64 // plaintext size of the part (of a stored part of c bytes: DecryptedSize(uploadMeta, c))
	// Meta is the part's metadata, from its EncryptPart writer's Metadata
	// after Close (CompleteUpload; CompleteMultipart ignores it).
	Meta map[string]string
}

// MaxPartNumber is the highest part number S3 accepts.
const MaxPartNumber = 10000
