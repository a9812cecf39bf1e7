package stream_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/envkms/kms/stream"
)

// Encrypt an object, then read a range of it back: only the segments that
// hold the range are fetched and decrypted.
func Example() {
	key, aad := make([]byte, 32), []byte("bucket/photo.jpg")
	rand.Read(key) // in practice: a per-object data key from kms
	var obj bytes.Buffer
	w, _ := stream.NewEncryptWriter(&obj, key, aad)
	io.WriteString(w, "hello, segmented world")
	if err := w.Close(); err != nil { // Close writes the final segment
		log.Fatal(err)
	}
	ra, err := stream.NewDecryptReaderAt(bytes.NewReader(obj.Bytes()), int64(obj.Len()), key, aad)
	if err != nil { // wrong key, aad, truncation, tampering: errors.Is(err, stream.ErrAuthentication)
		log.Fatal(err)
	}
	part := make([]byte, 9)
	ra.ReadAt(part, 7)
	fmt.Printf("%s (%d of %d bytes)\n", part, len(part), ra.Size())
	// Output: segmented (9 of 22 bytes)
}

func ExampleNewDecryptReader() {
	key := make([]byte, 32)
	rand.Read(key)
	var obj bytes.Buffer
	w, _ := stream.NewEncryptWriter(&obj, key, nil, stream.WithConcurrency(2))
	io.WriteString(w, "streamed plaintext\n")
	w.Close()

	r, err := stream.NewDecryptReader(&obj, key, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.Copy(os.Stdout, r); err != nil { // returns only authenticated bytes
		log.Fatal(err)
	}
	// Output: streamed plaintext
}

func ExampleCiphertextRange() {
	// Plaintext bytes [5,000,000, 5,000,100) of an object with 1 MiB segments
	// live in ciphertext segment 4; fetch it (plus the 40-byte header) for a range GET.
	start, end, err := stream.CiphertextRange(5_000_000, 100, stream.DefaultSegmentSize)
	if err != nil {
		log.Fatal(err)
	}
	size, err := stream.EncryptedSize(10<<20, stream.DefaultSegmentSize)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(start, end, size)
	// Output: 4194304 5242880 10485976
}
