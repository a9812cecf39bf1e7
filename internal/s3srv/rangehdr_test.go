package s3srv

import (
	"net/http"
	"testing"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		h       string
		size    int64
		want    byteRange
		partial bool
		err416  bool
	}{
		{"", 10, byteRange{}, false, false},
		{"bytes=0-4", 10, byteRange{0, 5}, true, false},
		{"bytes=5-", 10, byteRange{5, 5}, true, false},
		{"bytes=-3", 10, byteRange{7, 3}, true, false},
		{"bytes=-30", 10, byteRange{0, 10}, true, false},
		{"bytes=8-100", 10, byteRange{8, 2}, true, false},
		{"bytes=9-9", 10, byteRange{9, 1}, true, false},
		{"bytes=10-", 10, byteRange{}, false, true},
		{"bytes=10-20", 10, byteRange{}, false, true},
		{"bytes=-0", 10, byteRange{}, false, true},
		{"bytes=0-", 0, byteRange{}, false, true},
		{"bytes=-5", 0, byteRange{}, false, true},
		{"bytes=5-4", 10, byteRange{}, false, false}, // invalid: ignored
		{"bytes=a-b", 10, byteRange{}, false, false},
		{"bytes=0-1,3-4", 10, byteRange{}, false, false}, // multi-range: whole object
		{"items=0-1", 10, byteRange{}, false, false},
		{"bytes=-", 10, byteRange{}, false, false},
		{"bytes=--1", 10, byteRange{}, false, false},
	}
	for _, tc := range tests {
		got, partial, err := parseRange(tc.h, tc.size)
		if (err != nil) != tc.err416 {
			t.Errorf("%q/%d: err = %v, want 416 %v", tc.h, tc.size, err, tc.err416)
			continue
		}
		if err != nil && err.Status != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("%q: status %d", tc.h, err.Status)
		}
		if partial != tc.partial || got != tc.want {
			t.Errorf("%q/%d: got %+v partial=%v, want %+v partial=%v", tc.h, tc.size, got, partial, tc.want, tc.partial)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=3-", "bytes=99999999999999999999-", "bytes=-"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
			if size < 0 {
				return
			}
		}
		r, ok, err := parseRange(h, size)
		if ok && (r.Start < 0 || r.Length <= 0 || r.Start+r.Length > size) {
			t.Fatalf("%q size %d: range %+v out of bounds", h, size, r)
		}
		if ok && err != nil {
			t.Fatal("both a range and an error")
		}
	})
}

func TestValidBucketName(t *testing.T) {
	good := []string{"abc", "my-bucket", "my.bucket.1", "a1b", "123"}
	bad := []string{"", "ab", "ABC", "-abc", "abc-", "a..b", "a_b", "192.168.1.1", "admin", "../x", "a/b",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}
	for _, n := range good {
		if err := validBucketName(n); err != nil {
			t.Errorf("%q refused: %v", n, err)
		}
	}
	for _, n := range bad {
		if err := validBucketName(n); err == nil {
			t.Errorf("%q accepted", n)
		}
	}
}

func TestContinuationToken(t *testing.T) {
	for _, k := range []byte{'k', 'p'} {
		tok := encodeToken(k, "a/b c")
		kind, v, ok := decodeToken(tok)
		if !ok || kind != k || v != "a/b c" {
			t.Fatalf("round trip: %c %q %v", kind, v, ok)
		}
	}
	for _, bad := range []string{"", "!!", "eDpi", encodeToken('k', "")[:1]} {
		if _, _, ok := decodeToken(bad); ok {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestParseCopySource(t *testing.T) {
	b, k, err := parseCopySource("/src-bucket/dir%2Ffile%20name.txt")
	if err != nil || b != "src-bucket" || k != "dir/file name.txt" {
		t.Fatalf("got %q %q %v", b, k, err)
	}
	if _, _, err := parseCopySource("src-bucket/a?versionId=null"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "/", "bucket", "bucket/", "BAD/x", "bkt/x?versionId=3", "%zz/x"} {
		if _, _, err := parseCopySource(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
