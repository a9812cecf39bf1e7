package stream

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	testKey = bytes.Repeat([]byte{0x42}, 32)
	testAAD = []byte("bucket/object")
)

// seeded returns deterministic bytes.
func seeded(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	_, _ = r.Read(b)
	return b
}

// encrypt encrypts pt in one Write.
func encrypt(t testing.TB, pt []byte, opts ...Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewEncryptWriter(&buf, testKey, testAAD, opts...)
	require.NoError(t, err)
	_, err = w.Write(pt)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// plainReader hides any io.WriterTo of the underlying reader, forcing the pull path.
type plainReader struct{ r io.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

// decryptAll decrypts ct with the sequential reader, small reads (pull path).
func decryptAll(ct []byte, opts ...Option) ([]byte, error) {
	r, err := NewDecryptReader(plainReader{bytes.NewReader(ct)}, testKey, testAAD, opts...)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	buf := make([]byte, 1000)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
	}
}

// refOpen is an independent decoder written from the spec in doc.go. It
// returns the plaintexts of the leading segments that authenticate and
// whether the whole stream is valid.
func refOpen(key, aad, ct []byte, segSize int) (segs [][]byte, valid bool) {
	const hdr, tag = 40, 16
	if len(ct) < hdr || ct[0] != hdr {
		return nil, false
	}
	k, err := hkdf.Key(sha256.New, key, ct[1:33], string(aad), 32)
	if err != nil {
		panic(err)
	}
	block, _ := aes.NewCipher(k)
	gcm, _ := cipher.NewGCM(block)
	body := ct[hdr:]
	first := segSize - hdr
	for i := uint32(0); ; i++ {
		size := segSize
		if i == 0 {
			size = first
		}
		last := len(body) <= size
		seg := body[:min(size, len(body))]
		body = body[len(seg):]
		nonce := make([]byte, 12)
		copy(nonce, ct[33:40])
		binary.BigEndian.PutUint32(nonce[7:], i)
		if last {
			nonce[11] = 1
		}
		pt, err := gcm.Open(nil, nonce, seg, nil)
		if err != nil {
			return segs, false
		}
		segs = append(segs, pt)
		if last {
			return segs, true
		}
	}
}

func requireAuthErr(t testing.TB, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.True(t, errors.Is(err, ErrAuthentication), "want ErrAuthentication, got %v %v", err, msgAndArgs)
	var se *Error
	require.True(t, errors.As(err, &se), "want *stream.Error, got %T", err)
}

type runtimeMem struct{ bytes uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.bytes = s.TotalAlloc
}

// requireOpErr checks that err is an *Error of op wrapping sentinel.
func requireOpErr(t testing.TB, err error, op string, sentinel error) {
	t.Helper()
	require.ErrorIs(t, err, sentinel, op)
	var se *Error
	require.ErrorAs(t, err, &se, op)
	require.Equal(t, op, se.Op)
}
