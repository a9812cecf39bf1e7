package backendtest

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/envkms/kms/backend"
)

// maxFlips bounds the single-bit flips tried per ciphertext, so the suite
// stays quick against a remote backend.
const maxFlips = 320

// flipPositions returns the (byte, bit) positions to flip in an n-byte
// ciphertext: all of them if few enough, else every bit of the first and last
// two bytes plus one bit of evenly spaced bytes in between.
func flipPositions(n int) [][2]int {
	var out [][2]int
	if n*8 <= maxFlips {
		for i := 0; i < n; i++ {
			for bit := 0; bit < 8; bit++ {
				out = append(out, [2]int{i, bit})
			}
		}
		return out
	}
	for _, i := range []int{0, 1, n - 2, n - 1} {
		for bit := 0; bit < 8; bit++ {
			out = append(out, [2]int{i, bit})
		}
	}
	budget := maxFlips - len(out)
	step := (n - 4 + budget - 1) / budget
	if step < 1 {
		step = 1
	}
	for i := 2; i < n-2; i += step {
		out = append(out, [2]int{i, i % 8})
	}
	return out
}

var tamperErrs = []error{backend.ErrInvalidCiphertext, backend.ErrContextMismatch, backend.ErrKeyNotFound}

func (s *suite) testBitFlips(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "bitflip").KeyID
	ec := backend.EncryptionContext{"object": "x"}
	dk := generate(t, ctx, b, id, ec)
	for _, p := range flipPositions(len(dk.Ciphertext)) {
		ct := bytes.Clone(dk.Ciphertext)
		ct[p[0]] ^= 1 << p[1]
		got, err := b.Decrypt(ctx, ct, ec)
		if err == nil {
			t.Fatalf("ciphertext with bit %d of byte %d flipped decrypted (same key: %v)", p[1], p[0], bytes.Equal(got.Plaintext, dk.Plaintext))
		}
		wantErr(t, "Decrypt(flipped ciphertext)", err, tamperErrs...)
	}
	mustDecrypt(t, ctx, b, dk.Ciphertext, ec, dk.Plaintext) // the original is untouched
}

func (s *suite) testGarbage(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "garbage").KeyID
	dk := generate(t, ctx, b, id, nil)
	ct := dk.Ciphertext
	random := func(n int) []byte {
		p := make([]byte, n)
		_, _ = rand.Read(p)
		return p
	}
	cases := map[string][]byte{
		"nil":           nil,
		"empty":         {},
		"one zero byte": {0},
		"first byte":    ct[:1],
		"half":          ct[:len(ct)/2],
		"minus one":     ct[:len(ct)-1],
		"plus one":      append(bytes.Clone(ct), 0),
		"doubled":       append(bytes.Clone(ct), ct...),
		"zeros":         make([]byte, len(ct)),
		"ones":          bytes.Repeat([]byte{0xff}, len(ct)),
		"random same":   random(len(ct)),
		"random short":  random(16),
		"random long":   random(4096),
		"vault prefix":  []byte("vault:v1:"),
		"vault junk":    []byte("vault:v1:AAAA"),
		"vault big v":   []byte("vault:v99999999999999999999:AAAA"),
		"text":          []byte("not a ciphertext at all"),
		"reversed":      reverse(ct),
	}
	for name, c := range cases {
		got, err := call2(t, "Decrypt("+name+")", func() ([]byte, error) {
			dk, err := b.Decrypt(ctx, c, nil)
			return dk.Plaintext, err
		})
		if err == nil {
			t.Fatalf("Decrypt(%s) succeeded", name)
		}
		if len(got) != 0 {
			t.Fatalf("Decrypt(%s) returned plaintext bytes with its error", name)
		}
		wantErr(t, "Decrypt("+name+")", err, backend.ErrInvalidCiphertext, backend.ErrKeyNotFound)
	}
}

func reverse(p []byte) []byte {
	out := make([]byte, len(p))
	for i := range p {
		out[len(p)-1-i] = p[i]
	}
	return out
}
