package e2e

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"io"
	"testing"

	"github.com/minio/sio"

	"github.com/envkms/kms/stream"
)

// BenchmarkStream compares, in one run, envkms/stream (sequential, two
// goroutines, and with a shared BufferPool) with tink-go's streaming AEAD
// (same format, same 1 MiB segments), minio/sio (DARE 2.0, AES-256-GCM,
// 64 KiB packages) and raw crypto/cipher AES-256-GCM Seal/Open over the same
// bytes in 1 MiB segments into one reused buffer (the ceiling). Encryption is
// one Write of the object into io.Discard, decryption io.Copy from a
// bytes.Reader into io.Discard.
//
//	cd internal/e2e && go test -run XXX -bench BenchmarkStream -benchmem -count 5
func BenchmarkStream(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	aad := []byte("bucket/object")
	tink := newTink(b, key, stream.DefaultSegmentSize)
	sioCfg := sio.Config{Key: key, CipherSuites: []byte{sio.AES_256_GCM}}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	const rawSeg = stream.DefaultSegmentSize - 16
	pool := new(stream.BufferPool) // what a server shares between its streams

	for _, size := range []struct {
		name string
		n    int
	}{{"1MiB", 1 << 20}, {"64MiB", 64 << 20}} {
		pt := make([]byte, size.n)
		rand.Read(pt)
		ours := oursEncrypt(b, pt, key, aad)
		tinkCT := tinkEncrypt(b, tink, pt, aad)
		var sioBuf bytes.Buffer
		if _, err := sio.Encrypt(&sioBuf, bytes.NewReader(pt), sioCfg); err != nil {
			b.Fatal(err)
		}
		sioCT := sioBuf.Bytes()
		var rawCT [][]byte
		for rest := pt; len(rest) > 0; rest = rest[min(rawSeg, len(rest)):] {
			rawCT = append(rawCT, gcm.Seal(nil, nonce, rest[:min(rawSeg, len(rest))], nil))
		}
		dst := make([]byte, 0, stream.DefaultSegmentSize)

		bench := func(name string, f func() error) {
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(size.n))
				b.ReportAllocs()
				for b.Loop() {
					if err := f(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		ourEncrypt := func(opts ...stream.Option) func() error {
			return func() error {
				w, err := stream.NewEncryptWriter(io.Discard, key, aad, opts...)
				if err != nil {
					return err
				}
				if _, err := w.Write(pt); err != nil {
					return err
				}
				return w.Close()
			}
		}
		ourDecrypt := func(opts ...stream.Option) func() error {
			return func() error {
				r, err := stream.NewDecryptReader(bytes.NewReader(ours), key, aad, opts...)
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, r)
				return err
			}
		}

		bench("Encrypt/"+size.name+"/raw-gcm", func() error {
			for rest := pt; len(rest) > 0; rest = rest[min(rawSeg, len(rest)):] {
				dst = gcm.Seal(dst[:0], nonce, rest[:min(rawSeg, len(rest))], nil)
			}
			return nil
		})
		bench("Encrypt/"+size.name+"/envkms", ourEncrypt())
		bench("Encrypt/"+size.name+"/envkms-conc2", ourEncrypt(stream.WithConcurrency(2)))
		bench("Encrypt/"+size.name+"/envkms-pool", ourEncrypt(stream.WithBufferPool(pool)))
		bench("Encrypt/"+size.name+"/tink-go", func() error {
			w, err := tink.NewEncryptingWriter(io.Discard, aad)
			if err != nil {
				return err
			}
			if _, err := w.Write(pt); err != nil {
				return err
			}
			return w.Close()
		})
		bench("Encrypt/"+size.name+"/minio-sio", func() error {
			_, err := sio.Encrypt(io.Discard, bytes.NewReader(pt), sioCfg)
			return err
		})

		bench("Decrypt/"+size.name+"/raw-gcm", func() error {
			for _, c := range rawCT {
				var err error
				if dst, err = gcm.Open(dst[:0], nonce, c, nil); err != nil {
					return err
				}
			}
			return nil
		})
		bench("Decrypt/"+size.name+"/envkms", ourDecrypt())
		bench("Decrypt/"+size.name+"/envkms-conc2", ourDecrypt(stream.WithConcurrency(2)))
		bench("Decrypt/"+size.name+"/envkms-pool", ourDecrypt(stream.WithBufferPool(pool)))
		bench("Decrypt/"+size.name+"/tink-go", func() error {
			r, err := tink.NewDecryptingReader(bytes.NewReader(tinkCT), aad)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, r)
			return err
		})
		bench("Decrypt/"+size.name+"/minio-sio", func() error {
			_, err := sio.Decrypt(io.Discard, bytes.NewReader(sioCT), sioCfg)
			return err
		})
	}
}
