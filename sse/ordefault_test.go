package sse

import (
	"net/http"
	"testing"
)

// OrDefault applies the bucket's S3 Bucket Key setting to an SSE-KMS
// request without the bucket-key header, keeps the header's value when it
// was given, and changes neither argument.
func TestOrDefaultBucketKey(t *testing.T) {
	bkKMS := &Request{Kind: KindKMS, KMSKeyID: "k", BucketKeyEnabled: true}
	bkS3 := &Request{Kind: KindS3, BucketKeyEnabled: true}
	plainKMS := &Request{Kind: KindKMS, KMSKeyID: "k"}
	for _, tc := range []struct {
		name    string
		hdr     http.Header
		def     *Request
		kind    Kind
		want    bool
		keyID   string
		changes bool
	}{
		{"none, default bk", http.Header{}, bkKMS, KindKMS, true, "k", false},
		{"none, default no bk", http.Header{}, plainKMS, KindKMS, false, "k", false},
		{"none false, default bk", http.Header{HeaderBucketKeyEnabled: {"false"}}, bkKMS, KindKMS, false, "k", true},
		{"kms, default bk", http.Header{HeaderSSE: {"aws:kms"}}, bkKMS, KindKMS, true, "", true},
		{"kms, sse-s3 default bk", http.Header{HeaderSSE: {"aws:kms"}}, bkS3, KindKMS, true, "", true},
		{"kms false, default bk", http.Header{HeaderSSE: {"aws:kms"}, HeaderBucketKeyEnabled: {"false"}}, bkKMS, KindKMS, false, "", false},
		{"kms true, default no bk", http.Header{HeaderSSE: {"aws:kms"}, HeaderBucketKeyEnabled: {"true"}}, plainKMS, KindKMS, true, "", false},
		{"kms, no default", http.Header{HeaderSSE: {"aws:kms"}}, nil, KindKMS, false, "", false},
		{"s3, default bk", http.Header{HeaderSSE: {"AES256"}}, bkKMS, KindS3, false, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ParsePut(tc.hdr, true)
			if err != nil {
				t.Fatal(err)
			}
			var defBefore Request
			if tc.def != nil {
				defBefore = *tc.def
			}
			reqBefore := *req
			got := req.OrDefault(tc.def)
			if got.Kind != tc.kind || got.BucketKeyEnabled != tc.want || got.KMSKeyID != tc.keyID {
				t.Fatalf("got %+v, want kind %q bucket key %v key %q", got, tc.kind, tc.want, tc.keyID)
			}
			if tc.changes && (got == req || got == tc.def) {
				t.Fatal("OrDefault must return a copy")
			}
			if req.BucketKeyEnabled != reqBefore.BucketKeyEnabled || tc.def != nil && tc.def.BucketKeyEnabled != defBefore.BucketKeyEnabled {
				t.Fatal("OrDefault changed an argument")
			}
		})
	}
}
