package sse

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/internal/jsondup"
)

// Request header names, in canonical form (http.CanonicalHeaderKey).
const (
	HeaderSSE              = "X-Amz-Server-Side-Encryption"
	HeaderKMSKeyID         = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
	HeaderKMSContext       = "X-Amz-Server-Side-Encryption-Context"
	HeaderBucketKeyEnabled = "X-Amz-Server-Side-Encryption-Bucket-Key-Enabled"
	HeaderCustomerAlg      = "X-Amz-Server-Side-Encryption-Customer-Algorithm"
	HeaderCustomerKey      = "X-Amz-Server-Side-Encryption-Customer-Key"
	HeaderCustomerKeyMD5   = "X-Amz-Server-Side-Encryption-Customer-Key-Md5"

	HeaderCopySourceCustomerAlg    = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Algorithm"
	HeaderCopySourceCustomerKey    = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key"
	HeaderCopySourceCustomerKeyMD5 = "X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key-Md5"
)

// algorithmAES256 is the only SSE-C algorithm (and the SSE-S3 header value).
const algorithmAES256 = "AES256"

// maxContextHeader bounds the encoded encryption-context header.
const maxContextHeader = 8 << 10

// ParseOption configures header parsing.
type ParseOption func(*parseConfig)

type parseConfig struct{ allowInsecure bool }

// AllowInsecureSSEC(true) accepts SSE-C headers on connections that are not
// TLS. For loopback tests only: the customer key travels in clear text.
func AllowInsecureSSEC(allow bool) ParseOption {
	return func(c *parseConfig) { c.allowInsecure = allow }
}

func newParseConfig(opts []ParseOption) parseConfig {
	var c parseConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// ParsePut parses the SSE headers of a PutObject, CreateMultipartUpload or
// CopyObject (destination) request. tls reports whether the request arrived
// over TLS. No SSE headers yields a Request of KindNone (apply the bucket
// default with Request.OrDefault). Errors are *Error values with the S3 code.
func ParsePut(h http.Header, tls bool, opts ...ParseOption) (*Request, error) {
	cfg := newParseConfig(opts)
	if err := checkSingle(h, HeaderSSE, HeaderKMSKeyID, HeaderKMSContext, HeaderBucketKeyEnabled); err != nil {
		return nil, err
	}
	ck, err := parseCustomerKey(h, tls, cfg, HeaderCustomerAlg, HeaderCustomerKey, HeaderCustomerKeyMD5)
	if err != nil {
		return nil, err
	}
	sse, hasSSE := header(h, HeaderSSE)
	keyID, hasKeyID := header(h, HeaderKMSKeyID)
	encCtx, hasCtx := header(h, HeaderKMSContext)
	bucketKey, hasBucketKey := header(h, HeaderBucketKeyEnabled)

	if ck != nil {
		if hasSSE || hasKeyID || hasCtx || hasBucketKey {
			ck.Zero()
			return nil, errInvalidArgument(msgIncompatible)
		}
		return &Request{Kind: KindC, CustomerKey: ck}, nil
	}

	req := &Request{}
	switch {
	case !hasSSE:
		req.Kind = KindNone
	case sse == string(KindS3):
		req.Kind = KindS3
	case sse == string(KindKMS):
		req.Kind = KindKMS
	default:
		return nil, errInvalidArgument(msgBadSSE)
	}
	if (hasKeyID || hasCtx) && req.Kind != KindKMS {
		return nil, errInvalidArgument(msgKMSNeedsKMS)
	}
	if hasKeyID {
		id, err := parseKMSKeyID(keyID)
		if err != nil {
			return nil, err
		}
		req.KMSKeyID = id
	}
	if hasCtx {
		m, err := parseContext(encCtx)
		if err != nil {
			return nil, err
		}
		req.KMSContext = m
	}
	if hasBucketKey {
		req.bucketKeySet = true
		switch strings.ToLower(bucketKey) {
		case "true":
			if req.Kind != KindKMS {
				return nil, errInvalidArgument(msgBadBucketKey)
			}
			req.BucketKeyEnabled = true
		case "false":
		default:
			return nil, errInvalidArgument(msgBadBucketKey)
		}
	}
	return req, nil
}

// ParseGet parses the SSE-C key headers of a GetObject, HeadObject or
// UploadPart request: nil when there are none. SSE-S3/SSE-KMS request headers
// are refused with InvalidArgument 400, as S3 does for GET and HEAD.
func ParseGet(h http.Header, tls bool, opts ...ParseOption) (*CustomerKey, error) {
	for _, name := range []string{HeaderSSE, HeaderKMSKeyID, HeaderKMSContext, HeaderBucketKeyEnabled} {
		if _, ok := header(h, name); ok {
			return nil, errInvalidArgument(msgGetWithSSE)
		}
	}
	return parseCustomerKey(h, tls, newParseConfig(opts), HeaderCustomerAlg, HeaderCustomerKey, HeaderCustomerKeyMD5)
}

// ParseCopySource parses the x-amz-copy-source-server-side-encryption-customer-*
// headers of a CopyObject or UploadPartCopy request: nil when there are none.
func ParseCopySource(h http.Header, tls bool, opts ...ParseOption) (*CustomerKey, error) {
	return parseCustomerKey(h, tls, newParseConfig(opts),
		HeaderCopySourceCustomerAlg, HeaderCopySourceCustomerKey, HeaderCopySourceCustomerKeyMD5)
}

// parseCustomerKey parses one SSE-C header triple. It never echoes a header
// value into an error.
func parseCustomerKey(h http.Header, tls bool, cfg parseConfig, algName, keyName, md5Name string) (*CustomerKey, error) {
	if err := checkSingle(h, algName, keyName, md5Name); err != nil {
		return nil, err
	}
	alg, hasAlg := header(h, algName)
	keyB64, hasKey := header(h, keyName)
	sumB64, hasSum := header(h, md5Name)
	if !hasAlg && !hasKey && !hasSum {
		return nil, nil
	}
	// Refuse before looking at the key: over plain HTTP it is already exposed.
	if !tls && !cfg.allowInsecure {
		return nil, errInvalidRequest(ErrInsecureTransport, msgInsecure)
	}
	switch {
	case !hasAlg:
		return nil, errInvalidArgument(msgNoAlgorithm)
	case alg != algorithmAES256:
		return nil, newError(ErrInvalidAlgorithm, "InvalidEncryptionAlgorithmError", http.StatusBadRequest, msgBadAlgorithm)
	case !hasKey:
		return nil, errInvalidArgument(msgNoKey)
	case !hasSum:
		return nil, errInvalidArgument(msgNoKeyMD5)
	}
	// Decode into a fixed array (no heap copy of the key); longer input
	// can't be a 32-byte key and must not reach Decode.
	var raw [CustomerKeySize + 3]byte
	if base64.StdEncoding.DecodedLen(len(keyB64)) > len(raw) {
		return nil, errInvalidArgument(msgBadKey)
	}
	n, err := base64.StdEncoding.Decode(raw[:], []byte(keyB64))
	if err != nil || n != CustomerKeySize {
		clear(raw[:])
		return nil, errInvalidArgument(msgBadKey)
	}
	ck := new(CustomerKey)
	copy(ck.key[:], raw[:CustomerKeySize])
	clear(raw[:])

	sum := md5.Sum(ck.key[:])
	var given [md5.Size + 3]byte
	ok := base64.StdEncoding.DecodedLen(len(sumB64)) <= len(given)
	if ok {
		m, err := base64.StdEncoding.Decode(given[:], []byte(sumB64))
		ok = err == nil && m == md5.Size
	}
	// The digest comparison is constant-time: it is derived from the key.
	if !ok || subtle.ConstantTimeCompare(sum[:], given[:md5.Size]) != 1 {
		ck.Zero()
		return nil, errInvalidArgument(msgMD5Mismatch)
	}
	return ck, nil
}

// parseKMSKeyID accepts a key id or a KMS key ARN (…:key/ID).
func parseKMSKeyID(v string) (string, error) {
	if v == "" {
		return "", nil // the default key
	}
	if strings.HasPrefix(v, "arn:") {
		i := strings.LastIndex(v, ":key/")
		if i < 0 {
			return "", errInvalidArgument(msgBadKeyID)
		}
		v = v[i+len(":key/"):]
	}
	if backend.ValidateKeyID(v) != nil {
		return "", errInvalidArgument(msgBadKeyID)
	}
	return v, nil
}

// parseContext decodes x-amz-server-side-encryption-context: base64 of a
// UTF-8 JSON object with string values.
func parseContext(v string) (map[string]string, error) {
	if len(v) > maxContextHeader {
		return nil, errInvalidArgument(msgBadContext)
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || !utf8.Valid(raw) {
		return nil, errInvalidArgument(msgBadContext)
	}
	var m map[string]string
	// A key given twice would silently keep its last value.
	if jsondup.Check(raw, reflect.TypeFor[map[string]string]()) != nil {
		return nil, errInvalidArgument(msgBadContext)
	}
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errInvalidArgument(msgBadContext)
	}
	for k := range m {
		if k == "" || strings.HasPrefix(k, reservedContextPrefix) && k != contextKeyARN {
			return nil, errInvalidArgument(msgBadContext)
		}
	}
	return m, nil
}

// header returns the value of a header and whether it is present.
func header(h http.Header, name string) (string, bool) {
	v, ok := h[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// checkSingle refuses repeated SSE headers: which value would win is
// ambiguous between proxies and servers.
func checkSingle(h http.Header, names ...string) error {
	for _, n := range names {
		if len(h[n]) > 1 {
			return errInvalidArgument(msgDuplicateHeader)
		}
	}
	return nil
}
