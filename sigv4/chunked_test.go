package sigv4_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/sigv4"
)

// encodeChunked encodes data as aws-sdk-go-v2 and botocore do for
// STREAMING-UNSIGNED-PAYLOAD-TRAILER: "hex\r\ndata\r\n"..., "0\r\n", the
// trailer lines, "\r\n".
func encodeChunked(data []byte, chunk int, trailers ...string) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		n := min(chunk, len(data))
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(data[:n])
		b.WriteString("\r\n")
		data = data[n:]
	}
	b.WriteString("0\r\n")
	for _, t := range trailers {
		b.WriteString(t + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

const sig64 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"

var unsignedTrailer = []string{"X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "X-Amz-Trailer", "x-amz-checksum-crc32"}

// The decoder's rules (package documentation), with cases from both
// decoders it replaces (admin's and the example server's).
func TestChunkedReaderRules(t *testing.T) {
	hello := "5\r\nhello\r\n"
	cases := []struct {
		name string
		h    []string
		body string
		want string // payload, or the error's reason when fail is set
		fail bool
	}{
		// Accepted.
		{"unsigned with trailer (aws-sdk-go-v2, botocore)", unsignedTrailer,
			hello + "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "hello", false},
		{"uppercase hex size", nil, "A\r\nhelloworld\r\n0\r\n\r\n", "helloworld", false},
		{"leading zeros", nil, "0005\r\nhello\r\n0\r\n\r\n", "hello", false},
		{"empty payload", unsignedTrailer, "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "", false},
		{"spaces around the trailer value", unsignedTrailer,
			hello + "0\r\nx-amz-checksum-crc32 : \tAAAAAA== \r\n\r\n", "hello", false},
		{"trailer name in another case", unsignedTrailer,
			hello + "0\r\nX-Amz-Checksum-CRC32:AAAAAA==\r\n\r\n", "hello", false},
		{"signed chunks, not verified", []string{"X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
			"5;chunk-signature=" + sig64 + "\r\nhello\r\n0;chunk-signature=" + sig64 + "\r\n\r\n", "hello", false},
		{"signature optional without a streaming mode", nil,
			"5;chunk-signature=" + sig64 + "\r\nhello\r\n0\r\n\r\n", "hello", false},
		{"decoded length matches", []string{"X-Amz-Decoded-Content-Length", "5"}, hello + "0\r\n\r\n", "hello", false},

		// Framing.
		{"space after the size", nil, "5 \r\nhello\r\n0\r\n\r\n", "malformed chunk size", true},
		{"space before the size", nil, " 5\r\nhello\r\n0\r\n\r\n", "malformed chunk size", true},
		{"0x prefix", nil, "0x5\r\nhello\r\n0\r\n\r\n", "malformed chunk size", true},
		{"negative size", nil, "-5\r\nhello\r\n0\r\n\r\n", "malformed chunk size", true},
		{"size over 16 digits", nil, "00000000000000005\r\nhello\r\n0\r\n\r\n", "malformed chunk size", true},
		{"size overflows int64", nil, "ffffffffffffffff\r\n", "malformed chunk size", true},
		{"empty size", nil, "\r\nhello\r\n0\r\n\r\n", "malformed chunk size", true},
		{"overlong header line", nil, strings.Repeat("0", 300) + "\r\n", "overlong line", true},
		{"bare LF after the size", nil, "5\nhello\r\n0\r\n\r\n", "overlong line", true},
		{"CR without LF", nil, "5\rhello\r\n0\r\n\r\n", "CR without LF", true},
		{"missing CRLF after data", nil, "5\r\nhelloXX0\r\n\r\n", "missing CRLF after chunk data", true},
		{"unknown extension", nil, "5;foo=bar\r\nhello\r\n0\r\n\r\n", "unknown chunk extension", true},
		{"space before the extension", nil, "5 ;chunk-signature=" + sig64 + "\r\nhello\r\n0\r\n\r\n", "malformed chunk size", true},
		{"malformed signature", nil, "5;chunk-signature=XYZ\r\nhello\r\n0\r\n\r\n", "malformed chunk signature", true},
		{"signature in an unsigned payload", unsignedTrailer,
			"5;chunk-signature=" + sig64 + "\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "chunk-signature in an unsigned payload", true},
		{"no signature in a signed payload", []string{"X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
			hello + "0\r\n\r\n", "chunk without a chunk-signature", true},
		{"truncated data", nil, "5\r\nhel", "body ends inside a chunk", true},
		{"no final chunk", nil, hello, "body ends before the final chunk", true},
		{"empty body", nil, "", "body ends before the final chunk", true},
		{"missing final CRLF", nil, hello + "0\r\n", "body ends before its final CRLF", true},
		{"missing final CRLF after a trailer", unsignedTrailer,
			hello + "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n", "body ends before its final CRLF", true},
		{"half a final CRLF", nil, hello + "0\r\n\r", "body ends before its final CRLF", true},
		{"data after the final CRLF", nil, hello + "0\r\n\r\nX", "data after the final chunk", true},
		{"CRLF after the final CRLF", nil, hello + "0\r\n\r\n\r\n", "data after the final chunk", true},
		{"second body after the end", nil, hello + "0\r\n\r\n" + hello + "0\r\n\r\n", "data after the final chunk", true},

		// Chunk sizes in the signed modes.
		{"small chunk before the last (signed)", []string{"X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
			"5;chunk-signature=" + sig64 + "\r\nhello\r\n5;chunk-signature=" + sig64 + "\r\nhello\r\n0;chunk-signature=" + sig64 + "\r\n\r\n",
			"only the last chunk may be smaller than 8192 bytes", true},
		{"small chunks are fine unsigned", nil, hello + hello + "0\r\n\r\n", "hellohello", false},

		// Trailers.
		{"announced trailer missing", unsignedTrailer, hello + "0\r\n\r\n", "trailer announced in x-amz-trailer is missing", true},
		{"trailer not announced", nil, hello + "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "trailer not announced in x-amz-trailer", true},
		{"other trailer than announced", unsignedTrailer, hello + "0\r\nx-amz-checksum-sha256:AAAAAA==\r\n\r\n", "trailer not announced", true},
		{"repeated trailer", unsignedTrailer,
			hello + "0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "repeated trailer", true},
		{"trailer without colon", unsignedTrailer, hello + "0\r\nx-amz-checksum-crc32AAAAAA==\r\n\r\n", "malformed trailer", true},
		{"trailer without name", unsignedTrailer, hello + "0\r\n:AAAAAA==\r\n\r\n", "malformed trailer", true},
		{"trailer without value", unsignedTrailer, hello + "0\r\nx-amz-checksum-crc32:\r\n\r\n", "malformed trailer", true},
		{"trailer section over 8 KiB", []string{"X-Amz-Trailer", "x-a,x-b"},
			hello + "0\r\nx-a:" + strings.Repeat("a", 5000) + "\r\nx-b:" + strings.Repeat("b", 5000) + "\r\n\r\n", "overlong line", true},
		{"trailers in the signed mode without trailers", []string{"X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "X-Amz-Trailer", "x-amz-checksum-crc32"},
			hello, "x-amz-trailer needs a payload mode with trailers", true},
		{"malformed x-amz-trailer", []string{"X-Amz-Trailer", "x-amz-checksum-crc32,,"}, hello + "0\r\n\r\n", "malformed x-amz-trailer", true},

		// X-Amz-Decoded-Content-Length.
		{"longer than declared", []string{"X-Amz-Decoded-Content-Length", "4"}, hello + "0\r\n\r\n", "longer than x-amz-decoded-content-length", true},
		{"shorter than declared", []string{"X-Amz-Decoded-Content-Length", "6"}, hello + "0\r\n\r\n", "shorter than x-amz-decoded-content-length", true},
		{"malformed declared length", []string{"X-Amz-Decoded-Content-Length", "-1"}, hello + "0\r\n\r\n", "malformed x-amz-decoded-content-length", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range []string{"ReadAll", "OneByteReader"} {
				var body io.Reader = strings.NewReader(tc.body)
				if name == "OneByteReader" {
					body = iotest.OneByteReader(body)
				}
				got, err := io.ReadAll(sigv4.NewChunkedReader(body, hdr(tc.h...)))
				if !tc.fail {
					require.NoError(t, err, name)
					require.Equal(t, tc.want, string(got), name)
					continue
				}
				require.ErrorIs(t, err, sigv4.ErrMalformedBody, name)
				require.Contains(t, err.Error(), tc.want, name)
			}
		})
	}
}

func TestChunkedReaderTrailerAndSticky(t *testing.T) {
	body := encodeChunked(bytes.Repeat([]byte("x"), 100_000), 65536, "x-amz-checksum-crc32:AAAAAA==", "x-amz-checksum-sha256:BBBB")
	cr := sigv4.NewChunkedReader(bytes.NewReader(body), hdr("X-Amz-Trailer", "x-amz-checksum-crc32", "X-Amz-Trailer", "X-Amz-Checksum-Sha256"))
	require.Empty(t, cr.Trailer())
	n, err := io.Copy(io.Discard, cr)
	require.NoError(t, err)
	require.EqualValues(t, 100_000, n)
	require.Equal(t, http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}, "X-Amz-Checksum-Sha256": {"BBBB"}}, cr.Trailer())
	// io.EOF stays.
	k, err := cr.Read(make([]byte, 10))
	require.Equal(t, 0, k)
	require.Equal(t, io.EOF, err)

	bad := sigv4.NewChunkedReader(strings.NewReader("zz\r\n"), nil)
	_, err1 := bad.Read(make([]byte, 10))
	_, err2 := bad.Read(make([]byte, 10))
	require.ErrorIs(t, err1, sigv4.ErrMalformedBody)
	require.Same(t, err1, err2)
}

// errAtEnd returns its data and, with the last bytes, err instead of io.EOF,
// as the Verifier's hash check does.
type errAtEnd struct {
	r   *bytes.Reader
	err error
}

func (e *errAtEnd) Read(p []byte) (int, error) {
	n, _ := e.r.Read(p)
	if e.r.Len() == 0 {
		return n, e.err
	}
	return n, nil
}

// The underlying reader's errors come through unchanged, also an error that
// arrives with the body's last bytes: the decoder reads its input to the end
// before it reports io.EOF. (The example server's old decoder stopped at the
// final CRLF, and bufio kept such an error to itself: a hex
// x-amz-content-sha256 on an aws-chunked body was never checked.)
func TestChunkedReaderPassesUnderlyingErrors(t *testing.T) {
	mismatch := errors.New("hash of the encoded body does not match")
	body := encodeChunked([]byte("hello, world"), 5)
	for _, name := range []string{"ReadAll", "OneByteReader"} {
		var r io.Reader = &errAtEnd{r: bytes.NewReader(body), err: mismatch}
		if name == "OneByteReader" {
			r = iotest.OneByteReader(r)
		}
		got, err := io.ReadAll(sigv4.NewChunkedReader(r, nil))
		require.ErrorIs(t, err, mismatch, name)
		require.Equal(t, "hello, world", string(got), name)
	}

	// Midway: not mistaken for a truncated body.
	broken := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(body[:8]), iotest.ErrReader(broken))
	_, err := io.ReadAll(sigv4.NewChunkedReader(r, nil))
	require.ErrorIs(t, err, broken)
	require.NotErrorIs(t, err, sigv4.ErrMalformedBody)
}

func TestChunkedReaderClose(t *testing.T) {
	rc := &closeCounter{Reader: strings.NewReader("0\r\n\r\n")}
	cr := sigv4.NewChunkedReader(rc, nil)
	require.NoError(t, cr.Close())
	require.Equal(t, 1, rc.closed)
	require.NoError(t, sigv4.NewChunkedReader(strings.NewReader(""), nil).Close())
}

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

func FuzzChunkedReader(f *testing.F) {
	f.Add((encodeChunked([]byte("hello world"), 4, "x-amz-checksum-crc32:AAAAAA==")), true)
	f.Add([]byte("5;chunk-signature="+sig64+"\r\nhello\r\n0\r\n\r\n"), false)
	f.Add([]byte("ffffffffffffffff\r\n"), false)
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\nextra"), false)
	f.Fuzz(func(t *testing.T, body []byte, trailer bool) {
		h := http.Header{}
		if trailer {
			h = hdr(unsignedTrailer...)
		}
		cr := sigv4.NewChunkedReader(bytes.NewReader(body), h)
		n, err := io.Copy(io.Discard, io.LimitReader(cr, 1<<20))
		if n > int64(len(body)) {
			t.Fatalf("decoded %d bytes from %d", n, len(body))
		}
		if err != nil {
			var se *sigv4.Error
			if !errors.As(err, &se) || !errors.Is(err, sigv4.ErrMalformedBody) {
				t.Fatalf("error %v is not an ErrMalformedBody", err)
			}
		}
	})
}
