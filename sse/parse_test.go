package sse

import (
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestParsePut(t *testing.T) {
	raw := randBytes(32)
	sum := md5.Sum(raw)
	key, md := base64.StdEncoding.EncodeToString(raw), base64.StdEncoding.EncodeToString(sum[:])
	other := md5.Sum(randBytes(32))
	const (
		bad  = http.StatusBadRequest
		alg  = HeaderCustomerAlg
		ck   = HeaderCustomerKey
		cmd5 = HeaderCustomerKeyMD5
	)
	ssec := []string{alg, "AES256", ck, key, cmd5, md}
	with := func(extra ...string) []string { return append(append([]string{}, ssec...), extra...) }

	ok := []struct {
		name string
		h    []string
		want Request
	}{
		{"none", nil, Request{Kind: KindNone}},
		{"sse-s3", []string{HeaderSSE, "AES256"}, Request{Kind: KindS3}},
		{"sse-kms default key", []string{HeaderSSE, "aws:kms"}, Request{Kind: KindKMS}},
		{"sse-kms key", []string{HeaderSSE, "aws:kms", HeaderKMSKeyID, "my-key"}, Request{Kind: KindKMS, KMSKeyID: "my-key"}},
		{"sse-kms arn", []string{HeaderSSE, "aws:kms", HeaderKMSKeyID, "arn:aws:kms:us-east-1:123456789012:key/my-key"}, Request{Kind: KindKMS, KMSKeyID: "my-key"}},
		{"sse-kms context", []string{HeaderSSE, "aws:kms", HeaderKMSContext, b64(`{"a":"b","c":"d"}`)}, Request{Kind: KindKMS, KMSContext: map[string]string{"a": "b", "c": "d"}}},
		{"sse-kms bucket key", []string{HeaderSSE, "aws:kms", HeaderBucketKeyEnabled, "true"}, Request{Kind: KindKMS, BucketKeyEnabled: true, bucketKeySet: true}},
		{"bucket key false", []string{HeaderSSE, "AES256", HeaderBucketKeyEnabled, "false"}, Request{Kind: KindS3, bucketKeySet: true}},
		{"non-sse header ignored", []string{"X-Amz-Meta-Foo", "bar"}, Request{Kind: KindNone}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			req, err := ParsePut(hdr(c.h...), true)
			require.NoError(t, err)
			require.Equal(t, c.want, *req)
		})
	}
	t.Run("sse-c", func(t *testing.T) {
		req, err := ParsePut(hdr(ssec...), true)
		require.NoError(t, err)
		require.Equal(t, KindC, req.Kind)
		require.Equal(t, raw, req.CustomerKey.bytes())
		require.Equal(t, md, req.CustomerKey.KeyMD5())
	})

	fail := []struct {
		name     string
		h        []string
		code     string
		status   int
		sentinel error
		insecure bool
	}{
		{"bad sse value", []string{HeaderSSE, "AES128"}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"empty sse value", []string{HeaderSSE, ""}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"dsse unsupported", []string{HeaderSSE, "aws:kms:dsse"}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"key id without kms", []string{HeaderKMSKeyID, "k"}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"key id with sse-s3", []string{HeaderSSE, "AES256", HeaderKMSKeyID, "k"}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"context with sse-s3", []string{HeaderSSE, "AES256", HeaderKMSContext, b64(`{"a":"b"}`)}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"bad key id", []string{HeaderSSE, "aws:kms", HeaderKMSKeyID, "../etc"}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"bad arn", []string{HeaderSSE, "aws:kms", HeaderKMSKeyID, "arn:aws:kms:x"}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"context not base64", []string{HeaderSSE, "aws:kms", HeaderKMSContext, "%%%"}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"context not json", []string{HeaderSSE, "aws:kms", HeaderKMSContext, b64(`nope`)}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"context not object", []string{HeaderSSE, "aws:kms", HeaderKMSContext, b64(`["a"]`)}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"context null", []string{HeaderSSE, "aws:kms", HeaderKMSContext, b64(`null`)}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"context number value", []string{HeaderSSE, "aws:kms", HeaderKMSContext, b64(`{"a":1}`)}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"context reserved key", []string{HeaderSSE, "aws:kms", HeaderKMSContext, b64(`{"aws:x":"y"}`)}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"context too long", []string{HeaderSSE, "aws:kms", HeaderKMSContext, b64(`{"a":"` + strings.Repeat("x", 9000) + `"}`)}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"bucket key bad value", []string{HeaderSSE, "aws:kms", HeaderBucketKeyEnabled, "yes"}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"bucket key with sse-s3", []string{HeaderSSE, "AES256", HeaderBucketKeyEnabled, "true"}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"duplicate sse header", []string{HeaderSSE, "AES256", HeaderSSE, "aws:kms"}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c and sse-s3", with(HeaderSSE, "AES256"), "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c and sse-kms", with(HeaderSSE, "aws:kms"), "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c and key id", with(HeaderKMSKeyID, "k"), "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c and bucket key", with(HeaderBucketKeyEnabled, "true"), "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c insecure", ssec, "InvalidRequest", bad, ErrInsecureTransport, true},
		{"sse-c insecure, only md5", []string{cmd5, md}, "InvalidRequest", bad, ErrInsecureTransport, true},
		{"sse-c no algorithm", []string{ck, key, cmd5, md}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c bad algorithm", []string{alg, "AES128", ck, key, cmd5, md}, "InvalidEncryptionAlgorithmError", bad, ErrInvalidAlgorithm, false},
		{"sse-c lower-case algorithm", []string{alg, "aes256", ck, key, cmd5, md}, "InvalidEncryptionAlgorithmError", bad, ErrInvalidAlgorithm, false},
		{"sse-c no key", []string{alg, "AES256", cmd5, md}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c no md5", []string{alg, "AES256", ck, key}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c key not base64", []string{alg, "AES256", ck, "!!" + key[2:], cmd5, md}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c short key", []string{alg, "AES256", ck, base64.StdEncoding.EncodeToString(raw[:16]), cmd5, md}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c long key", []string{alg, "AES256", ck, base64.StdEncoding.EncodeToString(append(raw, 1)), cmd5, md}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c long unpadded key", []string{alg, "AES256", ck, strings.Repeat("A", 400), cmd5, md}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c long unpadded md5", []string{alg, "AES256", ck, key, cmd5, strings.Repeat("A", 400)}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c very long key", []string{alg, "AES256", ck, strings.Repeat(key, 10), cmd5, md}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c md5 mismatch", []string{alg, "AES256", ck, key, cmd5, base64.StdEncoding.EncodeToString(other[:])}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c md5 not base64", []string{alg, "AES256", ck, key, cmd5, "***"}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c md5 truncated", []string{alg, "AES256", ck, key, cmd5, base64.StdEncoding.EncodeToString(sum[:15])}, "InvalidArgument", bad, ErrInvalidArgument, false},
		{"sse-c duplicate key", []string{alg, "AES256", ck, key, ck, key, cmd5, md}, "InvalidArgument", bad, ErrInvalidArgument, false},
	}
	for _, c := range fail {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePut(hdr(c.h...), !c.insecure)
			requireSSEError(t, err, c.code, c.status, c.sentinel)
			require.NotContains(t, err.Error(), key)
			require.NotContains(t, err.Error(), md)
		})
	}
}

func TestInsecureSSEC(t *testing.T) {
	raw := randBytes(32)
	h := ssecHeaders(raw)
	for name, parse := range map[string]func(http.Header, bool, ...ParseOption) error{
		"put": func(h http.Header, tls bool, o ...ParseOption) error { _, err := ParsePut(h, tls, o...); return err },
		"get": func(h http.Header, tls bool, o ...ParseOption) error { _, err := ParseGet(h, tls, o...); return err },
		"copy": func(h http.Header, tls bool, o ...ParseOption) error {
			_, err := ParseCopySource(h, tls, o...)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			in := h
			if name == "copy" {
				in = http.Header{}
				for k, v := range h {
					in[strings.Replace(k, "X-Amz-", "X-Amz-Copy-Source-", 1)] = v
				}
			}
			requireSSEError(t, parse(in, false), "InvalidRequest", http.StatusBadRequest, ErrInsecureTransport)
			requireSSEError(t, parse(in, false, AllowInsecureSSEC(false)), "InvalidRequest", http.StatusBadRequest, ErrInsecureTransport)
			require.NoError(t, parse(in, false, AllowInsecureSSEC(true)))
			require.NoError(t, parse(in, true))
		})
	}
}

func TestParseGet(t *testing.T) {
	raw := randBytes(32)
	k, err := ParseGet(ssecHeaders(raw), true)
	require.NoError(t, err)
	require.Equal(t, raw, k.bytes())

	k, err = ParseGet(hdr("Range", "bytes=0-1"), false)
	require.NoError(t, err)
	require.Nil(t, k)

	for _, name := range []string{HeaderSSE, HeaderKMSKeyID, HeaderKMSContext, HeaderBucketKeyEnabled} {
		_, err := ParseGet(hdr(name, "AES256"), true)
		requireSSEError(t, err, "InvalidArgument", http.StatusBadRequest, ErrInvalidArgument)
	}
}

func TestParseCopySource(t *testing.T) {
	raw, dst := randBytes(32), randBytes(32)
	h := ssecHeaders(dst)
	sum := md5.Sum(raw)
	h.Set(HeaderCopySourceCustomerAlg, "AES256")
	h.Set(HeaderCopySourceCustomerKey, base64.StdEncoding.EncodeToString(raw))
	h.Set(HeaderCopySourceCustomerKeyMD5, base64.StdEncoding.EncodeToString(sum[:]))
	src, err := ParseCopySource(h, true)
	require.NoError(t, err)
	require.Equal(t, raw, src.bytes())
	req, err := ParsePut(h, true)
	require.NoError(t, err)
	require.Equal(t, dst, req.CustomerKey.bytes())

	h.Set(HeaderCopySourceCustomerAlg, "AES512")
	_, err = ParseCopySource(h, true)
	requireSSEError(t, err, "InvalidEncryptionAlgorithmError", http.StatusBadRequest, ErrInvalidAlgorithm)
	h.Del(HeaderCopySourceCustomerAlg)
	_, err = ParseCopySource(h, true)
	requireSSEError(t, err, "InvalidArgument", http.StatusBadRequest, ErrInvalidArgument)
}

func TestBucketDefault(t *testing.T) {
	r, err := BucketDefault("AES256", "", false)
	require.NoError(t, err)
	require.Equal(t, Request{Kind: KindS3}, *r)
	r, err = BucketDefault("aws:kms", "arn:aws:kms:eu-west-1:111122223333:key/k1", true)
	require.NoError(t, err)
	require.Equal(t, Request{Kind: KindKMS, KMSKeyID: "k1", BucketKeyEnabled: true}, *r)
	for _, c := range [][2]string{{"AES256", "k"}, {"SSE-C", ""}, {"", ""}, {"aws:kms", "a/b"}} {
		_, err := BucketDefault(c[0], c[1], false)
		requireSSEError(t, err, "InvalidArgument", http.StatusBadRequest, ErrInvalidArgument)
	}

	none := &Request{}
	require.Same(t, r, none.OrDefault(r))
	s3 := &Request{Kind: KindS3}
	require.Same(t, s3, s3.OrDefault(r))
	require.Equal(t, KindNone, none.OrDefault(nil).Kind)
	require.Equal(t, KindNone, (*Request)(nil).OrDefault(nil).Kind)
}

func TestCustomerKey(t *testing.T) {
	_, err := NewCustomerKey(make([]byte, 31))
	requireSSEError(t, err, "InvalidArgument", http.StatusBadRequest, ErrInvalidArgument)
	raw := randBytes(32)
	k, err := NewCustomerKey(raw)
	require.NoError(t, err)
	sum := md5.Sum(raw)
	require.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), k.KeyMD5())
	k.Zero()
	require.Equal(t, make([]byte, 32), k.bytes())
	(*CustomerKey)(nil).Zero()
}

// An SSE-KMS context that gives a key twice is refused (JSON would keep the
// last value silently).
func TestParseContextDuplicateKey(t *testing.T) {
	h := http.Header{}
	h.Set("X-Amz-Server-Side-Encryption", "aws:kms")
	h.Set("X-Amz-Server-Side-Encryption-Context", base64.StdEncoding.EncodeToString([]byte(`{"dept":"a","dept":"b"}`)))
	_, err := ParsePut(h, true)
	require.Error(t, err)
	var se *Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusBadRequest, se.HTTPStatus)
	h.Set("X-Amz-Server-Side-Encryption-Context", base64.StdEncoding.EncodeToString([]byte(`{"dept":"a","Dept":"b"}`)))
	_, err = ParsePut(h, true)
	require.NoError(t, err, "context keys are case-sensitive: two distinct keys")
}
