package sse

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/envkms/kms/backend"
)

// InternalPrefix starts the name of every internal metadata entry. Names are
// matched without regard to case. Internal entries hold the sealed object
// key, the wrapped data key and format details: a server stores them with
// the object, never returns them to clients (FilterInternal) and never lets
// a request write them (StripInternalHeaders).
const InternalPrefix = "X-Envkms-Internal-"

// Internal metadata entries (format version 1).
const (
	metaVersion     = InternalPrefix + "Version"      // "1"
	metaKind        = InternalPrefix + "Kind"         // SSE-S3 | SSE-KMS | SSE-C
	metaSealedKey   = InternalPrefix + "Sealed-Key"   // base64(salt || nonce || sealed OEK)
	metaKMSKeyID    = InternalPrefix + "Kms-Key-Id"   // SSE-S3, SSE-KMS
	metaKMSDataKey  = InternalPrefix + "Kms-Data-Key" // base64(wrapped data key)
	metaKMSContext  = InternalPrefix + "Kms-Context"  // base64(JSON) of the client's context
	metaBucketKey   = InternalPrefix + "Bucket-Key"   // "true" when requested
	metaSegmentSize = InternalPrefix + "Segment-Size" // stream ciphertext segment size
	metaParts       = InternalPrefix + "Parts"        // multipart: runs "first[-last]:size,…"
)

// Version 2 (objects sealed under a bucket key) has the entries of version 1
// with Kms-Bucket-Key instead of Kms-Data-Key.
const metaKMSBucketKey = InternalPrefix + "Kms-Bucket-Key" // base64(wrapped bucket key)

// Versions 3 and 4 are versions 1 and 2 with the ETag entries (etag.go).
const (
	metaETag       = InternalPrefix + "Etag"        // SSE-KMS, SSE-C: the opaque ETag, in the clear
	metaSealedMD5  = InternalPrefix + "Sealed-Md5"  // base64(nonce || AES-GCM(md5 key, MD5))
	metaPartNumber = InternalPrefix + "Part-Number" // metadata of one uploaded part
)

const (
	formatVersion1 = "1"
	formatVersion2 = "2"
	formatVersion3 = "3"
	formatVersion4 = "4"
)

// Internal names of the kinds (stable: they are stored and authenticated).
const (
	kindNameS3  = "SSE-S3"
	kindNameKMS = "SSE-KMS"
	kindNameC   = "SSE-C"
)

func kindName(k Kind) string {
	switch k {
	case KindS3:
		return kindNameS3
	case KindKMS:
		return kindNameKMS
	case KindC:
		return kindNameC
	}
	return ""
}

// objectMeta is decoded version-1 metadata.
type objectMeta struct {
	kind       Kind
	sealed     []byte
	kmsKeyID   string
	wrappedKey []byte
	kmsContext map[string]string // the client's context (without aws:s3:arn)
	bucketKey  bool              // the client asked for a bucket key (SSE-KMS)
	// viaBucketKey: wrappedKey is a bucket key (bucketkey.go), not the
	// object's own data key (version 2).
	viaBucketKey bool
	segmentSize  int
	parts        []Part // nil: a single stream

	// Format version 3/4 (etag.go): withETags is set for every new object.
	withETags  bool
	etag       string // the opaque ETag (SSE-KMS, SSE-C); "" for SSE-S3
	sealedMD5  []byte // nil: not recorded (an upload, or an SSE-C/KMS multipart object)
	partNumber int    // metadata of one uploaded part (EncryptPart); 0 otherwise
}

// encode writes m's public and internal entries into out.
func (m *objectMeta) encode(out map[string]string) {
	switch {
	case m.withETags && m.viaBucketKey:
		out[metaVersion] = formatVersion4
	case m.withETags:
		out[metaVersion] = formatVersion3
	case m.viaBucketKey:
		out[metaVersion] = formatVersion2
	default:
		out[metaVersion] = formatVersion1
	}
	if m.etag != "" {
		out[metaETag] = m.etag
	}
	if m.sealedMD5 != nil {
		out[metaSealedMD5] = base64.StdEncoding.EncodeToString(m.sealedMD5)
	}
	if m.partNumber != 0 {
		out[metaPartNumber] = strconv.Itoa(m.partNumber)
	}
	out[metaKind] = kindName(m.kind)
	out[metaSealedKey] = base64.StdEncoding.EncodeToString(m.sealed)
	out[metaSegmentSize] = strconv.Itoa(m.segmentSize)
	switch m.kind {
	case KindS3, KindKMS:
		out[metaKMSKeyID] = m.kmsKeyID
		if m.viaBucketKey {
			out[metaKMSBucketKey] = base64.StdEncoding.EncodeToString(m.wrappedKey)
		} else {
			out[metaKMSDataKey] = base64.StdEncoding.EncodeToString(m.wrappedKey)
		}
		out[HeaderSSE] = string(m.kind)
	case KindC:
		out[HeaderCustomerAlg] = algorithmAES256
	}
	if m.kind == KindKMS {
		out[HeaderKMSKeyID] = m.kmsKeyID
		if len(m.kmsContext) > 0 {
			c := encodeContext(m.kmsContext)
			out[metaKMSContext] = c
			out[HeaderKMSContext] = c
		}
		if m.bucketKey {
			out[metaBucketKey] = "true"
			out[HeaderBucketKeyEnabled] = "true"
		}
	}
	if m.parts != nil {
		out[metaParts] = encodeParts(m.parts)
	}
}

func encodeContext(c map[string]string) string {
	return base64.StdEncoding.EncodeToString(backend.EncryptionContext(c).Canonical())
}

// decodeMeta decodes the internal entries of meta: (nil, nil) when there are
// none (the object is not encrypted by this package).
func decodeMeta(meta map[string]string) (*objectMeta, error) {
	in := make(map[string]string, 9)
	for k, v := range meta {
		if !IsInternal(k) {
			continue
		}
		ck := http.CanonicalHeaderKey(k)
		if _, dup := in[ck]; dup {
			return nil, errCorrupt("duplicate entry")
		}
		in[ck] = v
	}
	if len(in) == 0 {
		return nil, nil
	}
	m := &objectMeta{}
	switch v, ok := in[metaVersion]; {
	case !ok:
		return nil, errCorrupt("no format version")
	case v == formatVersion2:
		m.viaBucketKey = true
	case v == formatVersion3:
		m.withETags = true
	case v == formatVersion4:
		m.viaBucketKey, m.withETags = true, true
	case v != formatVersion1:
		return nil, newError(ErrUnsupportedVersion, "InternalError", http.StatusInternalServerError, msgInternal)
	}
	dataKeyEntry := metaKMSDataKey
	if m.viaBucketKey {
		dataKeyEntry = metaKMSBucketKey
	}
	for k := range in {
		switch k {
		case metaVersion, metaKind, metaSealedKey, metaKMSKeyID, dataKeyEntry, metaKMSContext,
			metaBucketKey, metaSegmentSize, metaParts:
		case metaETag, metaSealedMD5, metaPartNumber:
			if !m.withETags {
				return nil, errCorrupt("unknown entry")
			}
		default:
			return nil, errCorrupt("unknown entry")
		}
	}
	switch in[metaKind] {
	case kindNameS3:
		m.kind = KindS3
	case kindNameKMS:
		m.kind = KindKMS
	case kindNameC:
		m.kind = KindC
	default:
		return nil, errCorrupt("unknown kind")
	}
	var err error
	if m.sealed, err = base64.StdEncoding.DecodeString(in[metaSealedKey]); err != nil || len(m.sealed) != sealedSize {
		return nil, errCorrupt("bad sealed key")
	}
	seg, err := strconv.Atoi(in[metaSegmentSize])
	if err != nil || seg < minSegmentSize || seg > maxSegmentSize {
		return nil, errCorrupt("bad segment size")
	}
	m.segmentSize = seg

	_, hasKeyID := in[metaKMSKeyID]
	_, hasDataKey := in[dataKeyEntry]
	_, hasCtx := in[metaKMSContext]
	_, hasBucketKey := in[metaBucketKey]
	if m.kind == KindC {
		if hasKeyID || hasDataKey || hasCtx || hasBucketKey || m.viaBucketKey {
			return nil, errCorrupt("kms entries on an SSE-C object")
		}
	} else {
		m.kmsKeyID = in[metaKMSKeyID]
		if backend.ValidateKeyID(m.kmsKeyID) != nil {
			return nil, errCorrupt("bad kms key id")
		}
		if m.wrappedKey, err = base64.StdEncoding.DecodeString(in[dataKeyEntry]); err != nil || len(m.wrappedKey) == 0 {
			return nil, errCorrupt("bad wrapped data key")
		}
		if hasCtx || hasBucketKey {
			if m.kind != KindKMS {
				return nil, errCorrupt("kms context on an SSE-S3 object")
			}
		}
		if hasCtx {
			raw, err := base64.StdEncoding.DecodeString(in[metaKMSContext])
			if err != nil || json.Unmarshal(raw, &m.kmsContext) != nil || len(m.kmsContext) == 0 {
				return nil, errCorrupt("bad kms context")
			}
			if _, ok := m.kmsContext[contextKeyARN]; ok {
				return nil, errCorrupt("bad kms context")
			}
		}
		if hasBucketKey {
			if in[metaBucketKey] != "true" {
				return nil, errCorrupt("bad bucket key entry")
			}
			m.bucketKey = true
		}
		// Version 2 SSE-KMS objects exist only because the client asked.
		if m.viaBucketKey && m.kind == KindKMS && !m.bucketKey {
			return nil, errCorrupt("bucket-key object without its bucket key entry")
		}
	}
	if p, ok := in[metaParts]; ok {
		if m.parts, err = decodeParts(p); err != nil {
			return nil, err
		}
	}
	if err := m.decodeETags(in); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeETags decodes the entries of version 3 and 4 (etag.go).
func (m *objectMeta) decodeETags(in map[string]string) error {
	if v, ok := in[metaETag]; ok {
		if !validETag(v) || strings.Contains(v, "-") != (m.parts != nil) || m.kind == KindS3 && m.sealedMD5Entry(in) {
			return errCorrupt("bad etag")
		}
		m.etag = v
	}
	if v, ok := in[metaSealedMD5]; ok {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(b) != sealedMD5Size {
			return errCorrupt("bad sealed md5")
		}
		m.sealedMD5 = b
	}
	if v, ok := in[metaPartNumber]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPartNumber || strconv.Itoa(n) != v || m.parts != nil {
			return errCorrupt("bad part number")
		}
		m.partNumber = n
	}
	// An ETag is recorded in the clear only when it is not the MD5; an
	// SSE-KMS or SSE-C MD5 needs its opaque ETag beside it.
	if m.sealedMD5 != nil && m.etag == "" && m.kind != KindS3 {
		return errCorrupt("sealed md5 without its etag")
	}
	return nil
}

// sealedMD5Entry: an SSE-S3 object records its ETag in the clear only when
// it has no sealed MD5 (Rekey from SSE-KMS/SSE-C of a multipart object).
func (m *objectMeta) sealedMD5Entry(in map[string]string) bool {
	_, ok := in[metaSealedMD5]
	return ok
}

// encodeParts writes runs of consecutive part numbers with equal sizes:
// "1-9:5242880,10:17".
func encodeParts(parts []Part) string {
	var b strings.Builder
	for i := 0; i < len(parts); {
		j := i
		for j+1 < len(parts) && parts[j+1].Number == parts[j].Number+1 && parts[j+1].Size == parts[i].Size {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(parts[i].Number))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(parts[j].Number))
		}
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(parts[i].Size, 10))
		i = j + 1
	}
	return b.String()
}

func decodeParts(s string) ([]Part, error) {
	bad := errCorrupt("bad part list")
	if s == "" || len(s) > MaxPartNumber*32 {
		return nil, bad
	}
	var parts []Part
	for run := range strings.SplitSeq(s, ",") {
		nums, size, ok := strings.Cut(run, ":")
		if !ok {
			return nil, bad
		}
		firstS, lastS, isRun := strings.Cut(nums, "-")
		first, err1 := strconv.Atoi(firstS)
		last := first
		var err2 error
		if isRun {
			last, err2 = strconv.Atoi(lastS)
		}
		n, err3 := strconv.ParseInt(size, 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || first < 1 || last < first || last > MaxPartNumber || n < 0 || n > maxObjectSize {
			return nil, bad
		}
		if len(parts) > 0 && first <= parts[len(parts)-1].Number {
			return nil, bad
		}
		for p := first; p <= last; p++ {
			parts = append(parts, Part{Number: p, Size: n})
		}
	}
	if validateParts(parts) != nil {
		return nil, bad
	}
	return parts, nil
}

// maxObjectSize bounds plaintext sizes in metadata (64 TiB, above S3's
// limits) so size arithmetic can't overflow.
const maxObjectSize = 1 << 46

// validateParts checks a part list for CompleteMultipart.
func validateParts(parts []Part) error {
	if len(parts) == 0 || len(parts) > MaxPartNumber {
		return errInvalidArgument(msgBadParts)
	}
	var total int64
	for i, p := range parts {
		if p.Number < 1 || p.Number > MaxPartNumber || p.Size < 0 || p.Size > maxObjectSize || i > 0 && p.Number <= parts[i-1].Number {
			return errInvalidArgument(msgBadParts)
		}
		if total += p.Size; total > maxObjectSize {
			return errInvalidArgument(msgBadParts)
		}
	}
	return nil
}

// KindOf returns the encryption kind recorded in meta: KindNone when meta has
// no encryption entries, or only malformed ones (DecryptObject reports those
// as errors; never serve an object as unencrypted on KindOf alone).
func KindOf(meta map[string]string) Kind {
	m, err := decodeMeta(meta)
	if err != nil || m == nil {
		return KindNone
	}
	return m.kind
}

// IsInternal reports whether a metadata or header name is an internal entry
// (it starts with InternalPrefix, in any case).
func IsInternal(name string) bool {
	return len(name) >= len(InternalPrefix) && strings.EqualFold(name[:len(InternalPrefix)], InternalPrefix)
}

// isSSEEntry reports whether name is one of the public SSE headers.
func isSSEEntry(name string) bool {
	const p = "X-Amz-Server-Side-Encryption"
	return len(name) >= len(p) && strings.EqualFold(name[:len(p)], p)
}

// FilterInternal returns a copy of meta without internal entries: what a
// server may show to clients.
func FilterInternal(meta map[string]string) map[string]string {
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		if !IsInternal(k) {
			out[k] = v
		}
	}
	return out
}

// StripInternalHeaders deletes from a request's headers every header that
// could become an internal entry: names starting with InternalPrefix, also
// behind the user-metadata prefix X-Amz-Meta-. A server calls it on every
// incoming request before it copies headers into object metadata.
func StripInternalHeaders(h http.Header) {
	const userMeta = "X-Amz-Meta-"
	for k := range h {
		name := k
		if len(name) >= len(userMeta) && strings.EqualFold(name[:len(userMeta)], userMeta) {
			name = name[len(userMeta):]
		}
		if IsInternal(name) {
			delete(h, k)
		}
	}
}

// withoutSSE returns a copy of meta without internal and public SSE entries.
func withoutSSE(meta map[string]string) map[string]string {
	out := make(map[string]string, len(meta)+10)
	for k, v := range meta {
		if !IsInternal(k) && !isSSEEntry(k) {
			out[k] = v
		}
	}
	return out
}
