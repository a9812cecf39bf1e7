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

// benchLoop runs f b.N times (b.Loop) and reports, besides wall time,
// cpu-ns/op: the process's CPU time per iteration, GC included. On a shared
// machine wall time also counts the time other processes held the CPU.
func benchLoop(b *testing.B, f func() error) {
	n := 0
	start := processCPU()
	for b.Loop() {
		if err := f(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if cpu := processCPU() - start; cpu > 0 && n > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

// BenchmarkStream compares, in one run, envkms/stream on the default path
// (no options) and with options (WithConcurrency(2), a shared BufferPool)
// with tink-go's streaming AEAD (same format, same 1 MiB segments),
// minio/sio (DARE 2.0, AES-256-GCM, 64 KiB packages) and raw crypto/cipher
// AES-256-GCM over the same bytes in 1 MiB segments into one reused buffer,
// with the key set up for every object (aes.NewCipher, cipher.NewGCM:
// raw-keyed) and without (raw). Every contender sets up its key for every
// object, as a server with one key per object must: envkms and tink-go
// derive a stream key with HKDF from a fresh random salt, sio sets up AES
// and draws a random nonce.
//
// Encryption is one Write of the object into io.Discard, decryption io.Copy
// from a bytes.Reader into io.Discard. All contenders read the same memory
// and write into a reused buffer: up to 1 MiB the data stays in the cache
// for all of them, at 64 MiB it is read from memory by all of them.
//
//	cd internal/e2e && go test -run '^$' -bench BenchmarkStream -benchmem -count 5
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
	pool := new(stream.BufferPool) // what a server might share between its streams

	for _, size := range []struct {
		name string
		n    int
	}{{"4KiB", 4 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}, {"64MiB", 64 << 20}} {
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
				benchLoop(b, f)
			})
		}
		keyed := func() cipher.AEAD {
			block, _ := aes.NewCipher(key)
			gcm, _ := cipher.NewGCM(block)
			return gcm
		}
		rawSeal := func(gcm cipher.AEAD) func() error {
			return func() error {
				for rest := pt; len(rest) > 0; rest = rest[min(rawSeg, len(rest)):] {
					dst = gcm.Seal(dst[:0], nonce, rest[:min(rawSeg, len(rest))], nil)
				}
				return nil
			}
		}
		rawOpen := func(gcm cipher.AEAD) func() error {
			return func() error {
				for _, c := range rawCT {
					var err error
					if dst, err = gcm.Open(dst[:0], nonce, c, nil); err != nil {
						return err
					}
				}
				return nil
			}
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
			br := bytes.NewReader(ours)
			return func() error {
				br.Reset(ours)
				r, err := stream.NewDecryptReader(br, key, aad, opts...)
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, r)
				return err
			}
		}

		bench("Encrypt/"+size.name+"/raw", rawSeal(gcm))
		bench("Encrypt/"+size.name+"/raw-keyed", func() error { return rawSeal(keyed())() })
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

		bench("Decrypt/"+size.name+"/raw", rawOpen(gcm))
		bench("Decrypt/"+size.name+"/raw-keyed", func() error { return rawOpen(keyed())() })
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
