package sse

import "strings"

// Encryption-context entries this package sets for SSE-S3 and SSE-KMS.
const (
	// contextKeyARN names the object, as S3 does: arn:aws:s3:::bucket/key.
	contextKeyARN = "aws:s3:arn"
	// reservedContextPrefix starts context keys a client may not set
	// (except contextKeyARN with the object's own ARN).
	reservedContextPrefix = "aws:"
)

// BucketDefault validates a bucket default encryption rule
// (PutBucketEncryption's SSEAlgorithm, KMSMasterKeyID, BucketKeyEnabled) and
// returns it as a Request. S3 has no SSE-C bucket default.
func BucketDefault(sseAlgorithm, kmsMasterKeyID string, bucketKeyEnabled bool) (*Request, error) {
	req := &Request{BucketKeyEnabled: bucketKeyEnabled}
	switch sseAlgorithm {
	case string(KindS3):
		req.Kind = KindS3
		if kmsMasterKeyID != "" {
			return nil, errInvalidArgument(msgKMSNeedsKMS)
		}
	case string(KindKMS):
		req.Kind = KindKMS
		id, err := parseKMSKeyID(kmsMasterKeyID)
		if err != nil {
			return nil, err
		}
		req.KMSKeyID = id
	default:
		return nil, errInvalidArgument(msgBadSSE)
	}
	return req, nil
}

// OrDefault returns r unless r asks for no encryption; then def (nil: no
// default, a Request of KindNone).
//
// The S3 Bucket Key setting follows S3 ("Configuring an S3 Bucket Key at the
// object level"): an SSE-KMS object — asked for by r or by def — takes r's
// x-amz-server-side-encryption-bucket-key-enabled when ParsePut saw that
// header, and otherwise the bucket's setting, def.BucketKeyEnabled. So an
// SSE-KMS PUT or COPY into a bucket with bucket keys uses one unless the
// request says "false", and a copy takes the destination bucket's setting,
// not the source object's. The result is then a copy; r and def are not
// changed.
func (r *Request) OrDefault(def *Request) *Request {
	if r != nil && r.Kind != KindNone {
		if r.Kind == KindKMS && !r.bucketKeySet && def != nil && def.BucketKeyEnabled && !r.BucketKeyEnabled {
			c := *r
			c.BucketKeyEnabled = true
			return &c
		}
		return r
	}
	if def != nil {
		if r != nil && r.bucketKeySet && def.Kind == KindKMS && def.BucketKeyEnabled != r.BucketKeyEnabled {
			c := *def
			c.BucketKeyEnabled = r.BucketKeyEnabled
			c.bucketKeySet = true
			return &c
		}
		return def
	}
	if r != nil {
		return r
	}
	return &Request{}
}

// validate checks a Request built by hand (ParsePut's are valid).
func (r *Request) validate() error {
	switch r.Kind {
	case KindNone, KindS3:
		if r.KMSKeyID != "" || len(r.KMSContext) > 0 {
			return errInvalidArgument(msgKMSNeedsKMS)
		}
		if r.CustomerKey != nil {
			return errInvalidArgument(msgIncompatible)
		}
	case KindKMS:
		if r.CustomerKey != nil {
			return errInvalidArgument(msgIncompatible)
		}
		if r.KMSKeyID != "" {
			if _, err := parseKMSKeyID(r.KMSKeyID); err != nil {
				return err
			}
		}
		for k := range r.KMSContext {
			if k == "" || strings.HasPrefix(k, reservedContextPrefix) && k != contextKeyARN {
				return errInvalidArgument(msgBadContext)
			}
		}
	case KindC:
		if r.CustomerKey == nil {
			return errMissingKey(msgNoKey)
		}
		if r.KMSKeyID != "" || len(r.KMSContext) > 0 || r.BucketKeyEnabled {
			return errInvalidArgument(msgIncompatible)
		}
	default:
		return errInvalidArgument(msgBadSSE)
	}
	return nil
}
