package sse

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"fmt"
	"io"
	"testing"

	"github.com/envkms/kms/stream"
)

// Benchmarks of the sse layer against the bare payload stream (the
// baseline) on the same bytes, default 1 MiB segments.

var benchSizes = []int{1 << 20, 64 << 20}

func benchName(n int) string { return fmt.Sprintf("%dMiB", n>>20) }

// sink discards writes, counting them.
type sink struct{ n int64 }

func (s *sink) Write(p []byte) (int, error) { s.n += int64(len(p)); return len(p), nil }

func BenchmarkEncrypt(b *testing.B) {
	e, err := New(newFakeKMS())
	if err != nil {
		b.Fatal(err)
	}
	key := testKey(b)
	for _, n := range benchSizes {
		data := randBytes(n)
		b.Run("stream/"+benchName(n), func(b *testing.B) {
			oek := newOEK()
			aad := streamAAD("bucket", "object", 0)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				w, err := newPayloadWriter(&sink{}, oek, aad, defaultSegmentSize, 1)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = w.Write(data)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, kind := range []struct {
			name string
			req  *Request
		}{{"sse-s3", &Request{Kind: KindS3}}, {"sse-c", &Request{Kind: KindC, CustomerKey: key}}} {
			b.Run(kind.name+"/"+benchName(n), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					w, err := e.EncryptObject(ctx, "bucket", "object", kind.req, &sink{})
					if err != nil {
						b.Fatal(err)
					}
					_, _ = w.Write(data)
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	e, err := New(newFakeKMS())
	if err != nil {
		b.Fatal(err)
	}
	key := testKey(b)
	for _, n := range benchSizes {
		data := randBytes(n)
		b.Run("stream/"+benchName(n), func(b *testing.B) {
			oek := newOEK()
			aad := streamAAD("bucket", "object", 0)
			var buf bytes.Buffer
			w, _ := newPayloadWriter(&buf, oek, aad, defaultSegmentSize, 1)
			_, _ = w.Write(data)
			_ = w.Close()
			stored := buf.Bytes()
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				r, err := stream.NewDecryptReader(bytes.NewReader(stored), oek, aad)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(&sink{}, r); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, kind := range []struct {
			name string
			req  *Request
			key  *CustomerKey
		}{{"sse-s3", &Request{Kind: KindS3}, nil}, {"sse-c", &Request{Kind: KindC, CustomerKey: key}, key}} {
			stored, meta := put(b, e, "bucket", "object", kind.req, data)
			b.Run(kind.name+"/"+benchName(n), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					r, err := e.DecryptObject(ctx, "bucket", "object", meta, kind.key, bytes.NewReader(stored), int64(len(stored)))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(&sink{}, r.Range(0, r.Size())); err != nil {
						b.Fatal(err)
					}
					r.Close()
				}
			})
		}
	}
}

// BenchmarkRangeGet reads 4 KiB at an offset in the middle of a 64 MiB
// SSE-C object: open (unseal + final segment) plus one segment.
func BenchmarkRangeGet(b *testing.B) {
	e, _ := New(newFakeKMS())
	key := testKey(b)
	data := randBytes(64 << 20)
	stored, meta := put(b, e, "bucket", "object", &Request{Kind: KindC, CustomerKey: key}, data)
	b.SetBytes(4096)
	b.ReportAllocs()
	for b.Loop() {
		r, err := e.DecryptObject(ctx, "bucket", "object", meta, key, bytes.NewReader(stored), int64(len(stored)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(&sink{}, r.Range(32<<20+12345, 4096)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePut(b *testing.B) {
	h := ssecHeaders(randBytes(32))
	b.ReportAllocs()
	for b.Loop() {
		req, err := ParsePut(h, true)
		if err != nil {
			b.Fatal(err)
		}
		req.CustomerKey.Zero()
	}
}

// BenchmarkSmallObject is the per-object cost (key generation, sealing,
// opening) on 4 KiB objects, PUT and GET apart, with the real local-backend
// kms.Manager (data-key cache on) and for SSE-C; raw-keyed is the floor in
// the same run: a fresh random key, its AES-GCM setup and one Seal or Open
// of the object (minio/sio doing the same work is in internal/e2e,
// BenchmarkSSESmallObject).
func BenchmarkSmallObject(b *testing.B) {
	m := newManager(b)
	e, err := New(m)
	if err != nil {
		b.Fatal(err)
	}
	key := testKey(b)
	data := randBytes(4096)
	b.Run("PUT/raw-keyed", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		dst := make([]byte, 0, len(data)+16)
		nonce := make([]byte, 12)
		for b.Loop() {
			k := newOEK()
			block, _ := aes.NewCipher(k)
			gcm, _ := cipher.NewGCM(block)
			dst = gcm.Seal(dst[:0], nonce, data, nil)
		}
	})
	b.Run("GET/raw-keyed", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		k := newOEK()
		block, _ := aes.NewCipher(k)
		gcm, _ := cipher.NewGCM(block)
		nonce := make([]byte, 12)
		ct := gcm.Seal(nil, nonce, data, nil)
		dst := make([]byte, 0, len(data))
		for b.Loop() {
			block, _ := aes.NewCipher(k)
			gcm, _ := cipher.NewGCM(block)
			var err error
			if dst, err = gcm.Open(dst[:0], nonce, ct, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, kind := range []struct {
		name string
		req  *Request
		key  *CustomerKey
	}{{"sse-s3", &Request{Kind: KindS3}, nil}, {"sse-kms", &Request{Kind: KindKMS, KMSKeyID: "app"}, nil}, {"sse-c", &Request{Kind: KindC, CustomerKey: key}, key}} {
		b.Run("PUT/"+kind.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				w, err := e.EncryptObject(ctx, "bucket", "object", kind.req, &buf)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = w.Write(data)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		stored, meta := put(b, e, "bucket", "object", kind.req, data)
		b.Run("GET/"+kind.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			br := bytes.NewReader(stored)
			for b.Loop() {
				br.Reset(stored)
				r, err := e.DecryptObject(ctx, "bucket", "object", meta, kind.key, br, int64(len(stored)))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r.Range(0, r.Size())); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}

// onlyReader hides bytes.Reader's WriterTo, as a request body does.
type onlyReader struct{ r io.Reader }

func (o *onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// BenchmarkPutETag is the S3 ETag cost (BENCHMARKS.md, "S3 ETag cost"): a
// PUT through EncryptObject, which computes the MD5 ETag beside the cipher,
// against the baseline of a plaintext server that also computes the MD5
// (io.Copy into MD5 and the sink) and against the cipher alone (stream, no
// ETag), in the same run. The body is read as a request body is (no
// WriterTo).
func BenchmarkPutETag(b *testing.B) {
	e, err := New(newFakeKMS())
	if err != nil {
		b.Fatal(err)
	}
	key := testKey(b)
	for _, n := range []int{4 << 10, 64 << 20} {
		data := randBytes(n)
		name := fmt.Sprintf("%dKiB", n>>10)
		if n >= 1<<20 {
			name = benchName(n)
		}
		b.Run("plain+md5/"+name, func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				h := md5.New()
				if _, err := io.Copy(io.MultiWriter(&sink{}, h), &onlyReader{bytes.NewReader(data)}); err != nil {
					b.Fatal(err)
				}
				_ = h.Sum(nil)
			}
		})
		b.Run("stream-no-etag/"+name, func(b *testing.B) {
			oek := newOEK()
			aad := streamAAD("bucket", "object", 0)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				w, err := newPayloadWriter(&sink{}, oek, aad, defaultSegmentSize, 1)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(w, &onlyReader{bytes.NewReader(data)}); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, kind := range []struct {
			name string
			req  *Request
		}{{"none", nil}, {"sse-s3", &Request{Kind: KindS3}}, {"sse-kms", &Request{Kind: KindKMS, BucketKeyEnabled: true}}, {"sse-c", &Request{Kind: KindC, CustomerKey: key}}} {
			b.Run(kind.name+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				defer reportCPU(b)()
				for b.Loop() {
					w, err := e.EncryptObject(ctx, "bucket", "object", kind.req, &sink{})
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(w, &onlyReader{bytes.NewReader(data)}); err != nil {
						b.Fatal(err)
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
					if w.ETag() == "" {
						b.Fatal("no ETag")
					}
				}
			})
		}
	}
}

// reportCPU starts measuring the process's CPU time; the function it
// returns reports it per op ("cpu-ns/op": all goroutines, so the hash on
// the other core counts, and other processes' load does not).
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
