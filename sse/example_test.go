package sse_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/envkms/kms/sse"
)

// customerKeyHeaders are the SSE-C headers a client such as the AWS SDK sends.
func customerKeyHeaders(key []byte) http.Header {
	sum := md5.Sum(key)
	h := http.Header{}
	h.Set("X-Amz-Server-Side-Encryption-Customer-Algorithm", "AES256")
	h.Set("X-Amz-Server-Side-Encryption-Customer-Key", base64.StdEncoding.EncodeToString(key))
	h.Set("X-Amz-Server-Side-Encryption-Customer-Key-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	return h
}

// A PUT and a ranged GET of an SSE-C object. SSE-S3 and SSE-KMS work the
// same way with an Encryptor made from a running *kms.Manager.
func Example() {
	ctx := context.Background()
	enc, err := sse.New(nil) // no KMS: SSE-C only
	if err != nil {
		panic(err)
	}
	key := bytes.Repeat([]byte{0x42}, 32)

	// PutObject
	put := customerKeyHeaders(key)
	sse.StripInternalHeaders(put)
	req, err := sse.ParsePut(put, true)
	if err != nil {
		panic(err)
	}
	var file bytes.Buffer // the server's storage
	w, err := enc.EncryptObject(ctx, "photos", "2024/cat.jpg", req, &file)
	if err != nil {
		panic(err)
	}
	io.Copy(w, strings.NewReader("meow meow meow"))
	if err := w.Close(); err != nil {
		panic(err)
	}
	meta := w.Metadata() // stored with the object
	fmt.Println("PUT:", sse.ResponseHeaders(meta, req.CustomerKey).Get("X-Amz-Server-Side-Encryption-Customer-Algorithm"))

	// GetObject, Range: bytes=5-8
	ck, err := sse.ParseGet(customerKeyHeaders(key), true)
	if err != nil {
		panic(err)
	}
	obj, err := enc.DecryptObject(ctx, "photos", "2024/cat.jpg", meta, ck, bytes.NewReader(file.Bytes()), int64(file.Len()))
	if err != nil {
		panic(err)
	}
	defer obj.Close()
	fmt.Println("size:", obj.Size())
	io.Copy(os.Stdout, obj.Range(5, 4))
	fmt.Println()
	// Output:
	// PUT: AES256
	// size: 14
	// meow
}

// Mapping an *sse.Error to an S3 error response.
func ExampleError() {
	h := http.Header{}
	h.Set("X-Amz-Server-Side-Encryption", "AES128")
	_, err := sse.ParsePut(h, true)

	var se *sse.Error
	if errors.As(err, &se) {
		fmt.Println(se.HTTPStatus, se.Code, "-", se.Message)
	}
	_, err = sse.ParseGet(customerKeyHeaders(make([]byte, 32)), false)
	fmt.Println(errors.Is(err, sse.ErrInsecureTransport))
	// Output:
	// 400 InvalidArgument - The encryption method specified is not supported.
	// true
}

// A multipart upload with SSE-C: parts may be encrypted in any order.
func ExampleEncryptor_InitiateMultipart() {
	ctx := context.Background()
	enc, _ := sse.New(nil)
	key, _ := sse.NewCustomerKey(bytes.Repeat([]byte{7}, 32))
	req := &sse.Request{Kind: sse.KindC, CustomerKey: key}

	upload, err := enc.InitiateMultipart(ctx, "b", "big", req)
	if err != nil {
		panic(err)
	}
	parts := map[int]*bytes.Buffer{}
	partMeta := map[int]map[string]string{} // kept with each part
	for _, n := range []int{2, 1} {
		parts[n] = &bytes.Buffer{}
		w, err := enc.EncryptPart(ctx, "b", "big", upload, key, n, parts[n])
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(w, "part %d;", n)
		if err := w.Close(); err != nil {
			panic(err)
		}
		partMeta[n] = w.Metadata() // w.ETag() is the UploadPart ETag
	}
	var list []sse.Part
	var stored []byte
	for n := 1; n <= 2; n++ {
		size, _ := sse.DecryptedSize(upload, int64(parts[n].Len()))
		list = append(list, sse.Part{Number: n, Size: size, Meta: partMeta[n]})
		stored = append(stored, parts[n].Bytes()...)
	}
	meta, err := enc.CompleteUpload(ctx, "b", "big", upload, list) // no customer key needed
	if err != nil {
		panic(err)
	}
	etag, _ := enc.ETag(ctx, "b", "big", meta) // opaque for SSE-C, "-2": two parts
	fmt.Println(strings.HasSuffix(etag, "-2"))
	obj, err := enc.DecryptObject(ctx, "b", "big", meta, key, bytes.NewReader(stored), int64(len(stored)))
	if err != nil {
		panic(err)
	}
	io.Copy(os.Stdout, obj.Range(0, obj.Size()))
	fmt.Println()
	// Output:
	// true
	// part 1;part 2;
}

// Changing the SSE-C key of an object (CopyObject onto itself) rewrites
// metadata only.
func ExampleEncryptor_Rekey() {
	ctx := context.Background()
	enc, _ := sse.New(nil)
	oldKey, _ := sse.NewCustomerKey(bytes.Repeat([]byte{1}, 32))
	newKey, _ := sse.NewCustomerKey(bytes.Repeat([]byte{2}, 32))

	var file bytes.Buffer
	w, _ := enc.EncryptObject(ctx, "b", "o", &sse.Request{Kind: sse.KindC, CustomerKey: oldKey}, &file)
	io.WriteString(w, "unchanged payload")
	w.Close()

	meta, err := enc.Rekey(ctx, "b", "o", w.Metadata(), oldKey, &sse.Request{Kind: sse.KindC, CustomerKey: newKey})
	if err != nil {
		panic(err)
	}
	_, err = enc.Head(ctx, "b", "o", meta, oldKey)
	fmt.Println("old key:", err.(*sse.Error).Code)
	obj, _ := enc.DecryptObject(ctx, "b", "o", meta, newKey, bytes.NewReader(file.Bytes()), int64(file.Len()))
	io.Copy(os.Stdout, obj.Range(0, obj.Size()))
	fmt.Println()
	// Output:
	// old key: AccessDenied
	// unchanged payload
}

// Never let a request write internal entries, never show them.
func ExampleStripInternalHeaders() {
	h := http.Header{}
	h.Set("X-Envkms-Internal-Sealed-Key", "attacker value")
	h.Set("X-Amz-Meta-Color", "blue")
	sse.StripInternalHeaders(h)
	fmt.Println(len(h), h.Get("X-Amz-Meta-Color"))

	meta := map[string]string{"X-Envkms-Internal-Version": "1", "X-Amz-Server-Side-Encryption": "AES256"}
	fmt.Println(sse.FilterInternal(meta))
	// Output:
	// 1 blue
	// map[X-Amz-Server-Side-Encryption:AES256]
}
