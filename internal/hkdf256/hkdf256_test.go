package hkdf256

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// TestKeyMatchesCryptoHKDF checks Key byte for byte against crypto/hkdf for
// random secrets, salts and infos of lengths around every boundary: empty,
// below, at and above one SHA-256 block (keys longer than a block are
// hashed), and past the stack buffer (messages longer than 1024).
func TestKeyMatchesCryptoHKDF(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lengths := []int{0, 1, 13, 31, 32, 33, 55, 56, 63, 64, 65, 100, 127, 128, 129, 200, 1000, 1024 - 1, 1024, 1024 + 1, 3000}
	rnd := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for _, ls := range lengths {
		for _, lk := range []int{0, 16, 32, 64, 65, 200} {
			for _, li := range lengths {
				secret, salt, info := rnd(ls), rnd(lk), rnd(li)
				want, err := hkdf.Key(sha256.New, secret, salt, string(info), Size)
				if err != nil {
					t.Fatal(err)
				}
				if got := Key(secret, salt, info); string(got[:]) != string(want) {
					t.Fatalf("secret %d, salt %d, info %d bytes: got %x, want %x", ls, lk, li, got, want)
				}
				// The two steps, as crypto/hkdf has them.
				wantPRK, err := hkdf.Extract(sha256.New, secret, salt)
				if err != nil {
					t.Fatal(err)
				}
				prk := Extract(secret, salt)
				if string(prk[:]) != string(wantPRK) {
					t.Fatalf("Extract, secret %d, salt %d bytes: got %x, want %x", ls, lk, prk, wantPRK)
				}
				wantOKM, err := hkdf.Expand(sha256.New, wantPRK, string(info), Size)
				if err != nil {
					t.Fatal(err)
				}
				if got := Expand(&prk, info); string(got[:]) != string(wantOKM) {
					t.Fatalf("Expand, info %d bytes: got %x, want %x", li, got, wantOKM)
				}
			}
		}
	}
}

// TestRFC5869Vectors checks the first 32 bytes of the OKM of RFC 5869's
// SHA-256 test cases (A.1-A.3).
func TestRFC5869Vectors(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seq := func(from, to int) []byte {
		var b []byte
		for i := from; i <= to; i++ {
			b = append(b, byte(i))
		}
		return b
	}
	cases := []struct {
		name            string
		ikm, salt, info []byte
		okm             string
	}{
		{"A.1", h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), seq(0x00, 0x0c), seq(0xf0, 0xf9),
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
		{"A.2", seq(0x00, 0x4f), seq(0x60, 0xaf), seq(0xb0, 0xff),
			"b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
		{"A.3", h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), nil, nil,
			"8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
	}
	for _, c := range cases {
		got := Key(c.ikm, c.salt, c.info)
		if want := h(c.okm)[:Size]; string(got[:]) != string(want) {
			t.Errorf("%s: got %x, want %x", c.name, got, want)
		}
	}
}

// TestKeyAllocs pins the allocations of the two crypto/hmac calls and their
// scratch buffer (11 with Go 1.26), fewer than crypto/hkdf's.
func TestKeyAllocs(t *testing.T) {
	secret, salt, info := make([]byte, 32), make([]byte, 32), make([]byte, 600)
	n := testing.AllocsPerRun(100, func() { _ = Key(secret, salt, info) })
	ref := testing.AllocsPerRun(100, func() { _, _ = hkdf.Key(sha256.New, secret, salt, string(info), Size) })
	if n > 11 || n >= ref {
		t.Fatalf("Key allocates %v times (crypto/hkdf %v), want at most 11 and fewer", n, ref)
	}
}

func BenchmarkKey(b *testing.B) {
	secret, salt, info := make([]byte, 32), make([]byte, 32), []byte("envkms/sse/v1/seal-key bucket/object")
	b.Run("hkdf256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Key(secret, salt, info)
		}
	})
	b.Run("crypto-hkdf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = hkdf.Key(sha256.New, secret, salt, string(info), Size)
		}
	})
}
