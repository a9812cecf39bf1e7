package sse

// Test vectors of the sse persisted format (FORMAT.md): object metadata
// (public headers and internal entries, sealed object key) and stored bytes
// of single-part and multipart objects of every kind, in
// testdata/vectors.json, written once by today's code. Each vector carries
// what is needed to read it: the SSE-C customer key, or the KMS data key
// with its wrapped form and encryption context (a stub KMS stands in for
// kms.Manager: sse stores the KMS ciphertext verbatim and never parses it).
//
// Written once by
//
//	SSE_UPDATE_TESTDATA=1 go test -run TestFormatVectors ./sse/
//
// which refuses to overwrite existing vectors: stored objects must stay
// readable, so a new format version gets new vectors beside these.

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/stream"
)

const fvVectorsFile = "testdata/vectors.json"

// fvVectorsV2File holds objects of metadata version 2 (sealed under a
// bucket key), written once when version 2 was added.
const fvVectorsV2File = "testdata/vectors_v2.json"

// fvVectorsV3File holds objects of metadata versions 3 and 4 (versions 1
// and 2 with ETag entries), written once when they were added.
const fvVectorsV3File = "testdata/vectors_v3.json"

// fvVectors is testdata/vectors.json.
type fvVectors struct {
	Comment string     `json:"comment"`
	Objects []fvObject `json:"objects"`
}

// fvObject is one stored object.
type fvObject struct {
	Name        string `json:"name"`
	Bucket      string `json:"bucket"`
	Object      string `json:"object"`
	Kind        Kind   `json:"kind"`
	SegmentSize int    `json:"segment_size"`
	// CustomerKey is the SSE-C key (hex).
	CustomerKey string `json:"customer_key,omitempty"`
	// KMS is the data key of SSE-S3 and SSE-KMS objects.
	KMS *fvKMS `json:"kms,omitempty"`
	// ObjectKey is the object key (OEK) the sealed key holds (hex), for
	// implementers.
	ObjectKey string `json:"object_key"`
	// Metadata is what the server stores with the object.
	Metadata map[string]string `json:"metadata"`
	// ResponseHeaders are the SSE headers of GET and HEAD responses (with
	// the customer key's MD5 for SSE-C).
	ResponseHeaders map[string]string `json:"response_headers"`
	Plaintext       string            `json:"plaintext"` // hex
	Stored          string            `json:"stored"`    // hex: the bytes the server stores
	// ETag is what Encryptor.ETag answers (versions 3 and 4; before, a
	// value derived from the sealed key, FORMAT.md).
	ETag string `json:"etag,omitempty"`
	// PartETags are the ETags of the parts, by part number (multipart,
	// versions 3 and 4).
	PartETags map[string]string `json:"part_etags,omitempty"`
}

type fvKMS struct {
	KeyID            string            `json:"key_id"`
	DataKey          string            `json:"data_key"`    // hex: the KEK
	WrappedKey       string            `json:"wrapped_key"` // hex: the KMS ciphertext, opaque to sse
	Context          map[string]string `json:"encryption_context"`
	CanonicalContext string            `json:"canonical_context"`
}

// fvKMSStub is a KeyManager that knows the vectors' data keys. Like a real
// KMS it refuses a wrapped key with another encryption context.
type fvKMSStub struct {
	keys map[string]*fvKMS // by hex of the wrapped key
	// gen makes new data keys (generator only).
	gen bool
}

func (s *fvKMSStub) GenerateDataKey(_ context.Context, keyID string, ec backend.EncryptionContext) (backend.DataKey, error) {
	if !s.gen {
		return backend.DataKey{}, errors.New("fvKMSStub: GenerateDataKey outside the generator")
	}
	if keyID == "" {
		keyID = "default"
	}
	dk, wrapped := make([]byte, 32), make([]byte, 48)
	_, _ = rand.Read(dk)
	_, _ = rand.Read(wrapped)
	wrapped = append([]byte("vector-kms:"), wrapped...)
	s.keys[hex.EncodeToString(wrapped)] = &fvKMS{KeyID: keyID, DataKey: hex.EncodeToString(dk), WrappedKey: hex.EncodeToString(wrapped),
		Context: ec, CanonicalContext: string(ec.Canonical())}
	return backend.DataKey{KeyID: keyID, Plaintext: dk, Ciphertext: wrapped}, nil
}

func (s *fvKMSStub) Decrypt(_ context.Context, ciphertext []byte, ec backend.EncryptionContext) (backend.DataKey, error) {
	k, ok := s.keys[hex.EncodeToString(ciphertext)]
	if !ok || string(ec.Canonical()) != k.CanonicalContext {
		return backend.DataKey{}, fmt.Errorf("fvKMSStub: %w", backend.ErrInvalidCiphertext)
	}
	dk, err := hex.DecodeString(k.DataKey)
	if err != nil {
		return backend.DataKey{}, err
	}
	return backend.DataKey{KeyID: k.KeyID, Plaintext: dk, Ciphertext: bytes.Clone(ciphertext)}, nil
}

func fvUnhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestFormatVectors reads every checked-in object with today's code
// (DecryptObject, Head, KindOf, sizes) and with a decoder written from
// FORMAT.md, and checks that damage fails with the documented errors.
func TestFormatVectors(t *testing.T) {
	if os.Getenv("SSE_UPDATE_TESTDATA") == "1" {
		fvWrite(t)
	}
	var vs fvVectors
	for _, file := range []string{fvVectorsFile, fvVectorsV2File, fvVectorsV3File} {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		var f fvVectors
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&f))
		require.NotEmpty(t, f.Objects)
		vs.Objects = append(vs.Objects, f.Objects...)
	}

	km := &fvKMSStub{keys: map[string]*fvKMS{}}
	for _, v := range vs.Objects {
		if v.KMS != nil {
			km.keys[v.KMS.WrappedKey] = v.KMS
		}
	}
	// The Encryptor's own segment size doesn't matter: objects record theirs.
	e, err := New(km)
	require.NoError(t, err)
	for _, v := range vs.Objects {
		t.Run(v.Name, func(t *testing.T) {
			fvCheckAPI(t, e, v)
			fvCheckReference(t, v)
		})
	}
}

func fvCustomerKey(t *testing.T, v fvObject) *CustomerKey {
	t.Helper()
	if v.CustomerKey == "" {
		return nil
	}
	k, err := NewCustomerKey(fvUnhex(t, v.CustomerKey))
	require.NoError(t, err)
	return k
}

func fvHeader(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Set(k, v)
	}
	return h
}

func fvRead(e *Encryptor, v fvObject, meta map[string]string, key *CustomerKey, stored []byte) ([]byte, error) {
	r, err := e.DecryptObject(context.Background(), v.Bucket, v.Object, meta, key, bytes.NewReader(stored), int64(len(stored)))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r.Range(0, r.Size()))
}

func fvCheckAPI(t *testing.T, e *Encryptor, v fvObject) {
	ctx := context.Background()
	key := fvCustomerKey(t, v)
	pt, stored := fvUnhex(t, v.Plaintext), fvUnhex(t, v.Stored)

	require.Equal(t, v.Kind, KindOf(v.Metadata))
	n, err := DecryptedSize(v.Metadata, int64(len(stored)))
	require.NoError(t, err)
	require.Equal(t, int64(len(pt)), n)
	// EncryptedSize is the size of one stream: the object, or one part.
	sizes := []int64{int64(len(pt))}
	if m, err := decodeMeta(v.Metadata); err == nil && m.parts != nil {
		sizes = nil
		for _, p := range m.parts {
			sizes = append(sizes, p.Size)
		}
	}
	var total int64
	for _, n := range sizes {
		c, err := EncryptedSize(v.Metadata, n)
		require.NoError(t, err)
		total += c
	}
	require.Equal(t, int64(len(stored)), total)

	r, err := e.DecryptObject(ctx, v.Bucket, v.Object, v.Metadata, key, bytes.NewReader(stored), int64(len(stored)))
	require.NoError(t, err)
	require.Equal(t, int64(len(pt)), r.Size())
	require.Equal(t, fvHeader(v.ResponseHeaders), r.Header())
	got, err := io.ReadAll(r.Range(0, r.Size()))
	require.NoError(t, err)
	require.Equal(t, pt, append([]byte{}, got...))
	// Ranges across segment and part borders.
	for _, rg := range [][2]int64{{0, 1}, {1, 200}, {100, 250}, {int64(len(pt)) / 2, int64(len(pt)) - int64(len(pt))/2}, {int64(len(pt)) - 1, 1}} {
		if rg[0] < 0 || rg[1] <= 0 || rg[0]+rg[1] > int64(len(pt)) {
			continue
		}
		got, err := io.ReadAll(r.Range(rg[0], rg[1]))
		require.NoError(t, err, "range %v", rg)
		require.Equal(t, pt[rg[0]:rg[0]+rg[1]], got, "range %v", rg)
	}
	require.NoError(t, r.Close())

	h, err := e.Head(ctx, v.Bucket, v.Object, v.Metadata, key)
	require.NoError(t, err)
	require.Equal(t, fvHeader(v.ResponseHeaders), h)
	require.Equal(t, fvHeader(v.ResponseHeaders), ResponseHeaders(v.Metadata, key))
	require.Equal(t, FilterInternal(v.Metadata), fvPublic(v.Metadata))
	etag, err := e.ETag(ctx, v.Bucket, v.Object, v.Metadata)
	require.NoError(t, err)
	require.Equal(t, fvReferenceETag(t, v), etag)
	if v.ETag != "" {
		require.Equal(t, v.ETag, etag)
	}

	// Negative cases. The object moved to another name: the seal (and the
	// KMS context) name bucket and object.
	wrongKey := ErrTampered
	if v.Kind == KindC {
		wrongKey = ErrWrongCustomerKey
		_, err = fvRead(e, v, v.Metadata, nil, stored)
		require.ErrorIs(t, err, ErrMissingCustomerKey)
		other, err := NewCustomerKey(bytes.Repeat([]byte{0x42}, 32))
		require.NoError(t, err)
		_, err = fvRead(e, v, v.Metadata, other, stored)
		require.ErrorIs(t, err, ErrWrongCustomerKey)
	} else {
		other, err := NewCustomerKey(bytes.Repeat([]byte{0x42}, 32))
		require.NoError(t, err)
		_, err = fvRead(e, v, v.Metadata, other, stored)
		require.ErrorIs(t, err, ErrNotApplicable)
	}
	moved := v
	moved.Object += ".moved"
	_, err = fvRead(e, moved, v.Metadata, key, stored)
	require.ErrorIs(t, err, wrongKey)

	// Every byte of the sealed key.
	sealed, err := base64.StdEncoding.DecodeString(v.Metadata[metaSealedKey])
	require.NoError(t, err)
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x80
		meta := maps.Clone(v.Metadata)
		meta[metaSealedKey] = base64.StdEncoding.EncodeToString(bad)
		_, err := fvRead(e, v, meta, key, stored)
		require.ErrorIs(t, err, wrongKey, "sealed key byte %d", i)
	}
	// Stored bytes: a flipped byte (first, middle, last), truncation and an
	// appended byte are ErrTampered, at open or from Read.
	for _, bad := range [][]byte{
		fvFlip(stored, 0), fvFlip(stored, len(stored)/2), fvFlip(stored, len(stored)-1),
		stored[:len(stored)-1], append(bytes.Clone(stored), 0),
	} {
		_, err := fvRead(e, v, v.Metadata, key, bad)
		require.ErrorIs(t, err, ErrTampered)
	}
	// Metadata: unknown version, no version, unknown entry, unknown kind,
	// segment size changed.
	metaEdits := map[string]struct {
		edit func(map[string]string)
		want error
	}{
		"version 5":            {func(m map[string]string) { m[metaVersion] = "5" }, ErrUnsupportedVersion},
		"version relabelled":   {func(m map[string]string) { m[metaVersion] = fvOtherVersion(m[metaVersion]) }, ErrCorruptMetadata},
		"no version":           {func(m map[string]string) { delete(m, metaVersion) }, ErrCorruptMetadata},
		"unknown entry":        {func(m map[string]string) { m[InternalPrefix+"Future"] = "x" }, ErrCorruptMetadata},
		"unknown kind":         {func(m map[string]string) { m[metaKind] = "SSE-X" }, ErrCorruptMetadata},
		"segment size not int": {func(m map[string]string) { m[metaSegmentSize] = "1MiB" }, ErrCorruptMetadata},
	}
	for name, me := range metaEdits {
		meta := maps.Clone(v.Metadata)
		me.edit(meta)
		_, err := fvRead(e, v, meta, key, stored)
		require.ErrorIs(t, err, me.want, name)
	}
	// The segment size is not authenticated: another value fails
	// authentication where it moves a segment border, and changes nothing
	// where it doesn't (an object of one segment).
	meta := maps.Clone(v.Metadata)
	meta[metaSegmentSize] = strconv.Itoa(v.SegmentSize + 1)
	if got, err := fvRead(e, v, meta, key, stored); err == nil {
		require.Equal(t, pt, append([]byte{}, got...))
	} else {
		require.ErrorIs(t, err, ErrTampered)
	}
	// A part list that doesn't match the stored size.
	if list, ok := v.Metadata[metaParts]; ok {
		meta := maps.Clone(v.Metadata)
		meta[metaParts] = list + ",9999:1"
		_, err := fvRead(e, v, meta, key, stored)
		require.ErrorIs(t, err, ErrTampered)
	}
}

func fvFlip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x01
	return b
}

// fvPublic is meta without the entries whose names start with the internal
// prefix, compared case-insensitively (FORMAT.md).
func fvPublic(meta map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range meta {
		if !strings.HasPrefix(strings.ToLower(k), "x-envkms-internal-") {
			out[k] = v
		}
	}
	return out
}

// --- Reference decoder: FORMAT.md, independent of the package's code. ---

func fvLP(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func fvBinding(label, kind, bucket, object string) []byte {
	return fvLP(fvLP(fvLP([]byte(label), kind), bucket), object)
}

func fvCheckReference(t *testing.T, v fvObject) {
	meta := http.Header{}
	for k, val := range v.Metadata {
		meta.Set(k, val) // names are case-insensitive
	}
	version := meta.Get("X-Envkms-Internal-Version")
	require.Contains(t, []string{"1", "2", "3", "4"}, version)
	kind := meta.Get("X-Envkms-Internal-Kind")
	seg, err := strconv.Atoi(meta.Get("X-Envkms-Internal-Segment-Size"))
	require.NoError(t, err)
	require.Equal(t, v.SegmentSize, seg)

	var kek []byte
	switch kind {
	case "SSE-C":
		require.Equal(t, KindC, v.Kind)
		kek = fvUnhex(t, v.CustomerKey)
	case "SSE-S3", "SSE-KMS":
		require.Equal(t, map[string]Kind{"SSE-S3": KindS3, "SSE-KMS": KindKMS}[kind], v.Kind)
		require.Equal(t, v.KMS.KeyID, meta.Get("X-Envkms-Internal-Kms-Key-Id"))
		// Version 2: the wrapped bucket key, bound to the bucket's ARN.
		entry, arn := "X-Envkms-Internal-Kms-Data-Key", "arn:aws:s3:::"+v.Bucket+"/"+v.Object
		if version == "2" || version == "4" {
			entry, arn = "X-Envkms-Internal-Kms-Bucket-Key", "arn:aws:s3:::"+v.Bucket
			require.Empty(t, meta.Get("X-Envkms-Internal-Kms-Data-Key"))
		}
		wrapped, err := base64.StdEncoding.DecodeString(meta.Get(entry))
		require.NoError(t, err)
		require.Equal(t, v.KMS.WrappedKey, hex.EncodeToString(wrapped))
		// The KMS context: the object's ARN plus the client's context.
		ec := map[string]string{}
		if c := meta.Get("X-Envkms-Internal-Kms-Context"); c != "" {
			raw, err := base64.StdEncoding.DecodeString(c)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &ec))
		}
		ec["aws:s3:arn"] = arn
		require.Equal(t, v.KMS.Context, ec)
		kek = fvUnhex(t, v.KMS.DataKey) // what the KMS returns for (wrapped, ec)
	default:
		t.Fatalf("kind %q", kind)
	}

	sealed, err := base64.StdEncoding.DecodeString(meta.Get("X-Envkms-Internal-Sealed-Key"))
	require.NoError(t, err)
	require.Len(t, sealed, 32+12+32+16)
	sk, err := hkdf.Key(sha256.New, kek, sealed[:32], string(fvBinding("envkms/sse/v1/seal-key", kind, v.Bucket, v.Object)), 32)
	require.NoError(t, err)
	block, err := aes.NewCipher(sk)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	oek, err := gcm.Open(nil, sealed[32:44], sealed[44:], fvBinding("envkms/sse/v1/oek", kind, v.Bucket, v.Object))
	require.NoError(t, err)
	require.Equal(t, v.ObjectKey, hex.EncodeToString(oek))

	// The payload: one stream (part number 0), or one per recorded part.
	type part struct {
		number int
		size   int64
	}
	parts := []part{{0, -1}}
	if list := meta.Get("X-Envkms-Internal-Parts"); list != "" {
		parts = nil
		for run := range strings.SplitSeq(list, ",") {
			nums, size, _ := strings.Cut(run, ":")
			first, last, isRun := strings.Cut(nums, "-")
			if !isRun {
				last = first
			}
			a, err1 := strconv.Atoi(first)
			b, err2 := strconv.Atoi(last)
			n, err3 := strconv.ParseInt(size, 10, 64)
			require.NoError(t, errors.Join(err1, err2, err3))
			for p := a; p <= b; p++ {
				parts = append(parts, part{p, n})
			}
		}
	}
	stored := fvUnhex(t, v.Stored)
	var plain []byte
	for _, p := range parts {
		cs := int64(len(stored))
		if p.number != 0 {
			cs = fvStreamSize(p.size, seg)
		}
		aad := binary.BigEndian.AppendUint32(fvBinding("envkms/sse/v1/payload", "", v.Bucket, v.Object), uint32(p.number))
		sr, err := stream.NewDecryptReader(bytes.NewReader(stored[:cs]), oek, aad, stream.WithSegmentSize(seg))
		require.NoError(t, err)
		got, err := io.ReadAll(sr)
		require.NoError(t, err, "part %d", p.number)
		if p.number != 0 {
			require.Len(t, got, int(p.size))
		}
		plain = append(plain, got...)
		stored = stored[cs:]
	}
	require.Empty(t, stored, "bytes after the last part")
	require.Equal(t, v.Plaintext, hex.EncodeToString(plain))
	if version == "3" || version == "4" {
		fvCheckReferenceETag(t, v, meta, oek, parts[0].number != 0)
	}
}

// fvCheckReferenceETag checks the ETag entries of version 3 and 4 from
// FORMAT.md: the sealed MD5 opens under the key derived from the OEK and
// holds the plaintext's MD5 (multipart SSE-S3: the MD5 of the part MD5s),
// and the opaque ETag of SSE-KMS and SSE-C is the HMAC of the MD5.
func fvCheckReferenceETag(t *testing.T, v fvObject, meta http.Header, oek []byte, multipart bool) {
	pt := fvUnhex(t, v.Plaintext)
	md5Key, err := hkdf.Key(sha256.New, oek, nil, string(fvBinding("envkms/sse/v3/md5-key", "", v.Bucket, v.Object)), 32)
	require.NoError(t, err)
	macKey, err := hkdf.Key(sha256.New, oek, nil, string(fvBinding("envkms/sse/v3/etag-key", "", v.Bucket, v.Object)), 32)
	require.NoError(t, err)
	opaque := func(d []byte) string {
		m := hmac.New(sha256.New, macKey)
		m.Write(d)
		return hex.EncodeToString(m.Sum(nil)[:16])
	}
	etag := meta.Get("X-Envkms-Internal-Etag")
	if !multipart {
		d := md5.Sum(pt)
		got := fvOpenMD5(t, md5Key, meta.Get("X-Envkms-Internal-Sealed-Md5"), v.Bucket, v.Object, 0, 0)
		require.Equal(t, d[:], got)
		if v.Kind == KindS3 {
			require.Empty(t, etag)
			require.Equal(t, hex.EncodeToString(d[:]), v.ETag)
		} else {
			require.Equal(t, opaque(d[:]), etag)
			require.Equal(t, etag, v.ETag)
		}
		return
	}
	// Multipart: the part ETags, and the object's from them.
	require.NotEmpty(t, v.PartETags)
	m, err := decodeMeta(v.Metadata)
	require.NoError(t, err)
	composite, opaqueComposite := md5.New(), md5.New()
	off := int64(0)
	for _, p := range m.parts {
		d := md5.Sum(pt[off : off+p.Size])
		off += p.Size
		pe := v.PartETags[strconv.Itoa(p.Number)]
		composite.Write(d[:])
		if v.Kind == KindS3 {
			require.Equal(t, hex.EncodeToString(d[:]), pe)
		} else {
			require.Equal(t, opaque(d[:]), pe)
			raw, _ := hex.DecodeString(pe)
			opaqueComposite.Write(raw)
		}
	}
	n := "-" + strconv.Itoa(len(m.parts))
	if v.Kind == KindS3 {
		got := fvOpenMD5(t, md5Key, meta.Get("X-Envkms-Internal-Sealed-Md5"), v.Bucket, v.Object, 0, 1)
		require.Equal(t, composite.Sum(nil), got)
		require.Equal(t, hex.EncodeToString(got)+n, v.ETag)
		return
	}
	require.Empty(t, meta.Get("X-Envkms-Internal-Sealed-Md5"))
	require.Equal(t, hex.EncodeToString(opaqueComposite.Sum(nil))+n, etag)
	require.Equal(t, etag, v.ETag)
}

// fvOpenMD5 opens a Sealed-Md5 entry as FORMAT.md describes it.
func fvOpenMD5(t *testing.T, md5Key []byte, entry, bucket, object string, part uint32, form byte) []byte {
	sealed, err := base64.StdEncoding.DecodeString(entry)
	require.NoError(t, err)
	require.Len(t, sealed, 12+16+16)
	block, err := aes.NewCipher(md5Key)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	aad := append(binary.BigEndian.AppendUint32(fvBinding("envkms/sse/v3/md5", "", bucket, object), part), form)
	d, err := gcm.Open(nil, sealed[:12], sealed[12:], aad)
	require.NoError(t, err)
	return d
}

// fvReferenceETag is the ETag FORMAT.md gives v: the recorded one
// (versions 3 and 4), or for older metadata the value derived from the
// sealed key.
func fvReferenceETag(t *testing.T, v fvObject) string {
	if v.ETag != "" {
		return v.ETag
	}
	sealed, err := base64.StdEncoding.DecodeString(v.Metadata[metaSealedKey])
	require.NoError(t, err)
	h := sha256.Sum256(append([]byte("envkms/sse/legacy-etag"), sealed...))
	e := hex.EncodeToString(h[:16])
	if list, ok := v.Metadata[metaParts]; ok {
		m, err := decodeMeta(map[string]string{metaVersion: "1", metaKind: kindNameC, metaSealedKey: v.Metadata[metaSealedKey],
			metaSegmentSize: "256", metaParts: list})
		require.NoError(t, err)
		e += "-" + strconv.Itoa(len(m.parts))
	}
	return e
}

// fvStreamSize is stream/FORMAT.md's ciphertext size of p plaintext bytes.
func fvStreamSize(p int64, seg int) int64 {
	first, rest := int64(seg-56), int64(seg-16)
	n := int64(1)
	if p > first {
		n += (p - first + rest - 1) / rest
	}
	return 40 + p + 16*n
}

// --- Generator (run once per format version). ---

func fvWrite(t *testing.T) {
	wrote := false
	for _, f := range []struct {
		file, version string
		seed          uint64
		specs         func() []fvSpec
	}{{fvVectorsFile, "1", 2, fvSpecsV1}, {fvVectorsV2File, "2", 3, fvSpecsV2}, {fvVectorsV3File, "3", 4, fvSpecsV3}} {
		if _, err := os.Stat(f.file); !errors.Is(err, fs.ErrNotExist) {
			continue // written once: never overwritten
		}
		t.Run(f.version, func(t *testing.T) { fvWriteFile(t, f.file, f.version, f.seed, f.specs()) })
		wrote = true
	}
	if !wrote {
		t.Fatalf("%s, %s and %s exist: vectors are written once; add a new format version's vectors beside them", fvVectorsFile, fvVectorsV2File, fvVectorsV3File)
	}
}

// fvSpec is one object of the generator.
type fvSpec struct {
	name, bucket, object string
	seg                  int
	req                  Request
	plaintext            []byte
	parts                []Part // multipart when set
}

func fvText(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdefghijklmnopqrstuvwxyz\n"[i%37]
	}
	return b
}

func fvSpecsV1() []fvSpec {
	text := fvText
	type spec = fvSpec
	kmsWithContext := Request{Kind: KindKMS, KMSKeyID: "vector-key", BucketKeyEnabled: true,
		KMSContext: map[string]string{"department": "finance", "project": "<x&y>"}}
	return []spec{
		{name: "SSE-C, three segments", bucket: "bucket", object: "object", seg: 256,
			req: Request{Kind: KindC}, plaintext: text(600)},
		{name: "SSE-S3, default segment size", bucket: "bucket", object: "docs/hello.txt", seg: 1 << 20,
			req: Request{Kind: KindS3}, plaintext: []byte("hello, world\n")},
		{name: "SSE-KMS with context and bucket key, non-ASCII object name", bucket: "my-bucket", object: "dir/über café?.txt", seg: 128,
			req: kmsWithContext, plaintext: text(300)},
		{name: "SSE-KMS, empty object", bucket: "bucket", object: "empty", seg: 256,
			req: Request{Kind: KindKMS, KMSKeyID: "vector-key"}, plaintext: nil},
		{name: "SSE-C multipart, parts 1-2:300,4:17", bucket: "bucket", object: "multi", seg: 256,
			req: Request{Kind: KindC}, plaintext: text(617), parts: []Part{{Number: 1, Size: 300}, {Number: 2, Size: 300}, {Number: 4, Size: 17}}},
		{name: "SSE-S3 multipart, parts 1:200,2:5", bucket: "bucket", object: "multi-s3", seg: 128,
			req: Request{Kind: KindS3}, plaintext: text(205), parts: []Part{{Number: 1, Size: 200}, {Number: 2, Size: 5}}},
	}
}

// fvSpecsV2 are objects sealed under bucket keys (version 2): two SSE-S3
// objects sharing one bucket key, SSE-KMS with a context and a non-ASCII
// name, SSE-KMS multipart.
func fvSpecsV2() []fvSpec {
	kms := Request{Kind: KindKMS, KMSKeyID: "vector-key", BucketKeyEnabled: true,
		KMSContext: map[string]string{"department": "finance", "project": "<x&y>"}}
	return []fvSpec{
		{name: "v2 SSE-S3 bucket key, three segments", bucket: "bucket", object: "bk/one", seg: 256,
			req: Request{Kind: KindS3}, plaintext: fvText(600)},
		{name: "v2 SSE-S3 same bucket key, another object", bucket: "bucket", object: "bk/two", seg: 256,
			req: Request{Kind: KindS3}, plaintext: fvText(20)},
		{name: "v2 SSE-KMS bucket key with context, non-ASCII object name", bucket: "my-bucket", object: "dir/über café?.txt", seg: 128,
			req: kms, plaintext: fvText(300)},
		{name: "v2 SSE-KMS bucket key multipart, parts 1:200,3:9", bucket: "my-bucket", object: "multi-kms", seg: 128,
			req: Request{Kind: KindKMS, KMSKeyID: "vector-key", BucketKeyEnabled: true}, plaintext: fvText(209), parts: []Part{{Number: 1, Size: 200}, {Number: 3, Size: 9}}},
	}
}

// fvSpecsV3 are objects with ETag entries: version 3 (SSE-C; SSE-KMS
// without a bucket key) and version 4 (SSE-S3 and SSE-KMS under bucket
// keys), single-part and multipart, with two equal parts.
func fvSpecsV3() []fvSpec {
	kms := Request{Kind: KindKMS, KMSKeyID: "vector-key", KMSContext: map[string]string{"project": "<x&y>"}}
	kmsBK := Request{Kind: KindKMS, KMSKeyID: "vector-key", BucketKeyEnabled: true}
	twoEqual := append(fvText(150), fvText(150)...)
	return []fvSpec{
		{name: "v3 SSE-C, three segments", bucket: "bucket", object: "etag/c", seg: 256,
			req: Request{Kind: KindC}, plaintext: fvText(600)},
		{name: "v3 SSE-KMS with context, non-ASCII object name", bucket: "my-bucket", object: "etag/über", seg: 128,
			req: kms, plaintext: fvText(300)},
		{name: "v4 SSE-S3, hello", bucket: "bucket", object: "etag/hello.txt", seg: 1 << 20,
			req: Request{Kind: KindS3}, plaintext: []byte("hello, world\n")},
		{name: "v4 SSE-S3, empty", bucket: "bucket", object: "etag/empty", seg: 256,
			req: Request{Kind: KindS3}, plaintext: nil},
		{name: "v4 SSE-S3 multipart, parts 1:200,2:5", bucket: "bucket", object: "etag/multi-s3", seg: 128,
			req: Request{Kind: KindS3}, plaintext: fvText(205), parts: []Part{{Number: 1, Size: 200}, {Number: 2, Size: 5}}},
		{name: "v3 SSE-C multipart, equal parts 1:150,3:150", bucket: "bucket", object: "etag/multi-c", seg: 256,
			req: Request{Kind: KindC}, plaintext: twoEqual, parts: []Part{{Number: 1, Size: 150}, {Number: 3, Size: 150}}},
		{name: "v4 SSE-KMS bucket key multipart, parts 1:200,2:9", bucket: "my-bucket", object: "etag/multi-kms", seg: 128,
			req: kmsBK, plaintext: fvText(209), parts: []Part{{Number: 1, Size: 200}, {Number: 2, Size: 9}}},
	}
}

func fvWriteFile(t *testing.T, file, version string, seed uint64, specs []fvSpec) {
	cryptotest.SetGlobalRandom(t, seed)
	ctx := context.Background()
	km := &fvKMSStub{keys: map[string]*fvKMS{}, gen: true}
	vs := fvVectors{Comment: "Test vectors of the sse object format, metadata version " + version + " (sse/FORMAT.md). " +
		"Keys are public test keys, never use them. Byte strings are hex."}

	customerKey := make([]byte, 32)
	for i := range customerKey {
		customerKey[i] = byte(i)
	}
	// One Encryptor for all, so objects of one bucket share bucket keys.
	encryptors := map[int]*Encryptor{}
	for _, s := range specs {
		e := encryptors[s.seg]
		if e == nil {
			var err error
			opts := []Option{WithSegmentSize(s.seg)}
			if version == "1" {
				opts = append(opts, WithoutBucketKeys()) // version 1: a data key per object
			}
			e, err = New(km, opts...)
			require.NoError(t, err)
			encryptors[s.seg] = e
		}
		var err error
		req := s.req
		var key *CustomerKey
		if req.Kind == KindC {
			key, err = NewCustomerKey(customerKey)
			require.NoError(t, err)
			req.CustomerKey = key
		}
		var stored bytes.Buffer
		var meta map[string]string
		var partETags map[string]string
		if s.parts == nil {
			w, err := e.EncryptObject(ctx, s.bucket, s.object, &req, &stored)
			require.NoError(t, err)
			_, err = w.Write(s.plaintext)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			meta = w.Metadata()
		} else {
			up, err := e.InitiateMultipart(ctx, s.bucket, s.object, &req)
			require.NoError(t, err)
			off := int64(0)
			parts := slices.Clone(s.parts)
			partETags = map[string]string{}
			for i, p := range parts {
				w, err := e.EncryptPart(ctx, s.bucket, s.object, up, key, p.Number, &stored)
				require.NoError(t, err)
				_, err = w.Write(s.plaintext[off : off+p.Size])
				require.NoError(t, err)
				require.NoError(t, w.Close())
				parts[i].Meta = w.Metadata()
				partETags[strconv.Itoa(p.Number)] = w.ETag()
				off += p.Size
			}
			if version == "1" || version == "2" {
				meta, err = CompleteMultipart(up, s.parts) // these versions record no ETag
				partETags = nil
			} else {
				meta, err = e.CompleteUpload(ctx, s.bucket, s.object, up, parts)
			}
			require.NoError(t, err)
		}
		v := fvObject{Name: s.name, Bucket: s.bucket, Object: s.object, Kind: req.Kind, SegmentSize: s.seg,
			Metadata: meta, Plaintext: hex.EncodeToString(s.plaintext), Stored: hex.EncodeToString(stored.Bytes())}
		if key != nil {
			v.CustomerKey = hex.EncodeToString(customerKey)
		} else {
			wrapped, err := base64.StdEncoding.DecodeString(meta[metaKMSDataKey] + meta[metaKMSBucketKey])
			require.NoError(t, err)
			v.KMS = km.keys[hex.EncodeToString(wrapped)]
		}
		// Record the object key and response headers, read with today's code.
		m, err := decodeMeta(meta)
		require.NoError(t, err)
		oek, err := e.openKey(ctx, s.bucket, s.object, m, key, "")
		require.NoError(t, err)
		v.ObjectKey = hex.EncodeToString(oek)
		if version != "1" && version != "2" {
			v.ETag, err = e.ETag(ctx, s.bucket, s.object, meta)
			require.NoError(t, err)
			v.PartETags = partETags
		}
		v.ResponseHeaders = map[string]string{}
		for k := range ResponseHeaders(meta, key) {
			v.ResponseHeaders[k] = ResponseHeaders(meta, key).Get(k)
		}
		vs.Objects = append(vs.Objects, v)
	}
	out, err := json.MarshalIndent(vs, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll("testdata", 0o755))
	require.NoError(t, os.WriteFile(file, append(out, '\n'), 0o644))
}

// fvOtherVersion is the other known version than v: its entries don't fit.
func fvOtherVersion(v string) string {
	return map[string]string{"1": "2", "2": "1", "3": "4", "4": "3"}[v]
}
