package stream

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// %v of a reader, writer or ReaderAt must not print buffered plaintext.
func TestFormatHidesPlaintext(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	secret := strings.Repeat("PLAINTEXT-SECRET ", 64)
	var ct bytes.Buffer
	w, err := NewEncryptWriter(&ct, key, nil, WithSegmentSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, secret)
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		outs = append(outs, fmt.Sprintf(verb, w))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := NewDecryptReader(bytes.NewReader(ct.Bytes()), key, nil, WithSegmentSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	io.ReadFull(r, buf)
	ra, err := NewDecryptReaderAt(bytes.NewReader(ct.Bytes()), int64(ct.Len()), key, nil, WithSegmentSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	ra.ReadAt(buf, 100)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		outs = append(outs, fmt.Sprintf(verb, r), fmt.Sprintf(verb, ra))
	}
	for _, o := range outs {
		if strings.Contains(o, "PLAINTEXT") || strings.Contains(o, "504c41494e") || strings.Contains(o, "0x07") {
			t.Fatalf("fmt output leaks plaintext or key: %.200s", o)
		}
	}
}
