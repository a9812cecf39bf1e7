package e2e

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"log/slog"
	"testing"

	"github.com/minio/sio"

	"github.com/envkms/kms"
	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/sse"
)

// BenchmarkSSESmallObject: PUT and GET of a 4 KiB object through sse
// (SSE-S3 with the local backend and its data-key cache, and SSE-C), in one
// run with the same work done with minio/sio in place of the stream (a
// fresh object key, sealed like sse seals it — HKDF-SHA256 to a seal key,
// AES-256-GCM over the object key — under the KMS data key or the customer
// key, then sio over the object; GET: unwrap the data key, open the seal,
// sio; and the S3 ETag, as sse and MinIO make it: PUT hashes the plaintext
// with MD5 and seals the digest under the object key, GET opens it) and with
// raw AES-256-GCM with key setup (a fresh key, aes.NewCipher,
// cipher.NewGCM, one Seal or Open of the object: the floor).
//
//	cd internal/e2e && go test -run '^$' -bench BenchmarkSSESmallObject -benchmem -count 5
func BenchmarkSSESmallObject(b *testing.B) {
	ctx := context.Background()
	m := kms.NewManager(kms.WithLogger(slog.New(slog.DiscardHandler)))
	cache := true
	if err := m.Configure(ctx, kms.Config{
		BackendType:     kms.BackendLocal,
		KeyDir:          b.TempDir(),
		MasterKey:       kms.Secret("correct horse battery staple, test only"),
		DefaultKeyID:    "default",
		EnableCache:     &cache,
		MaxCachedKeys:   100,
		CacheTTLSeconds: 60,
	}); err != nil {
		b.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Stop(ctx) })
	if _, err := m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: "default"}); err != nil {
		b.Fatal(err)
	}
	e, err := sse.New(m)
	if err != nil {
		b.Fatal(err)
	}
	rawKey := make([]byte, 32)
	rand.Read(rawKey)
	ck, err := sse.NewCustomerKey(rawKey)
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 4096)
	rand.Read(data)
	ec := backend.EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bucket/object"}

	bench := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			benchLoop(b, f)
		})
	}

	// raw AES-256-GCM with key setup.
	nonce := make([]byte, 12)
	dst := make([]byte, 0, len(data)+16)
	bench("PUT/raw-keyed", func() error {
		k := make([]byte, 32)
		rand.Read(k)
		block, _ := aes.NewCipher(k)
		gcm, _ := cipher.NewGCM(block)
		dst = gcm.Seal(dst[:0], nonce, data, nil)
		return nil
	})
	rawCT := func() []byte {
		block, _ := aes.NewCipher(rawKey)
		gcm, _ := cipher.NewGCM(block)
		return gcm.Seal(nil, nonce, data, nil)
	}()
	bench("GET/raw-keyed", func() error {
		block, _ := aes.NewCipher(rawKey)
		gcm, _ := cipher.NewGCM(block)
		var err error
		dst, err = gcm.Open(dst[:0], nonce, rawCT, nil)
		return err
	})

	// sse.
	for _, kind := range []struct {
		name string
		req  *sse.Request
		key  *sse.CustomerKey
	}{{"sse-s3", &sse.Request{Kind: sse.KindS3}, nil}, {"sse-c", &sse.Request{Kind: sse.KindC, CustomerKey: ck}, ck}} {
		var stored bytes.Buffer
		bench("PUT/envkms-"+kind.name, func() error {
			stored.Reset()
			w, err := e.EncryptObject(ctx, "bucket", "object", kind.req, &stored)
			if err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
			return w.Close()
		})
		w, _ := e.EncryptObject(ctx, "bucket", "object", kind.req, &stored)
		stored.Reset()
		_, _ = w.Write(data)
		_ = w.Close()
		obj, meta := bytes.Clone(stored.Bytes()), w.Metadata()
		br := bytes.NewReader(obj)
		bench("GET/envkms-"+kind.name, func() error {
			br.Reset(obj)
			r, err := e.DecryptObject(ctx, "bucket", "object", meta, kind.key, br, int64(len(obj)))
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(io.Discard, r.Range(0, r.Size()))
			return err
		})
	}

	// minio/sio doing the same work.
	for _, kind := range []string{"sse-s3", "sse-c"} {
		var wrapped, sealed, sealedETag, sioCT []byte
		kek := func(put bool) ([]byte, error) {
			if kind == "sse-c" {
				return rawKey, nil
			}
			if put {
				dk, err := m.GenerateDataKey(ctx, "", ec)
				if err != nil {
					return nil, err
				}
				wrapped = dk.Ciphertext
				return dk.Plaintext, nil
			}
			dk, err := m.Decrypt(ctx, wrapped, ec)
			return dk.Plaintext, err
		}
		var out bytes.Buffer
		put := func() error {
			k, err := kek(true)
			if err != nil {
				return err
			}
			oek := make([]byte, 32)
			rand.Read(oek)
			sealed = sealKey(k, oek)
			out.Reset()
			_, err = sio.Encrypt(&out, bytes.NewReader(data), sio.Config{Key: oek, CipherSuites: []byte{sio.AES_256_GCM}})
			etag := md5.Sum(data)
			sealedETag = sealKey(oek, etag[:])
			return err
		}
		bench("PUT/minio-sio-"+kind, put)
		if err := put(); err != nil {
			b.Fatal(err)
		}
		sioCT = bytes.Clone(out.Bytes())
		br := bytes.NewReader(sioCT)
		bench("GET/minio-sio-"+kind, func() error {
			k, err := kek(false)
			if err != nil {
				return err
			}
			oek, err := openKey(k, sealed)
			if err != nil {
				return err
			}
			if _, err := openKey(oek, sealedETag); err != nil {
				return err
			}
			br.Reset(sioCT)
			_, err = sio.Decrypt(io.Discard, br, sio.Config{Key: oek, CipherSuites: []byte{sio.AES_256_GCM}})
			return err
		})
	}
}

// sealKey and openKey seal an object key (or an ETag digest) the way sse does (HKDF-SHA256 seal
// key from a random salt, AES-256-GCM), for the sio contender.
func sealKey(kek, oek []byte) []byte {
	out := make([]byte, 44, 44+48)
	rand.Read(out)
	sk, _ := hkdf.Key(sha256.New, kek, out[:32], "envkms/sse/v1/seal-key bucket object", 32)
	block, _ := aes.NewCipher(sk)
	gcm, _ := cipher.NewGCM(block)
	return gcm.Seal(out, out[32:44], oek, []byte("envkms/sse/v1/oek bucket object"))
}

func openKey(kek, sealed []byte) ([]byte, error) {
	sk, _ := hkdf.Key(sha256.New, kek, sealed[:32], "envkms/sse/v1/seal-key bucket object", 32)
	block, _ := aes.NewCipher(sk)
	gcm, _ := cipher.NewGCM(block)
	return gcm.Open(nil, sealed[32:44], sealed[44:], []byte("envkms/sse/v1/oek bucket object"))
}
