package sse

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCopyPart: a range of a source of every kind becomes a part of an
// upload of every kind; the part's ETag is the ETag of that range's
// content in the upload (the same as uploading it), and bad ranges and
// source keys get S3's errors.
func TestCopyPart(t *testing.T) {
	ctx := context.Background()
	e, _ := newTestEncryptor(t)
	srcKey, dstKey := testKey(t), testKey(t)
	data := randBytes(5000)
	for sname, sreq := range requests(srcKey) {
		stored, meta := put(t, e, "src", "o", sreq, data)
		src := CopySource{Bucket: "src", Object: "o", Meta: meta, Key: customerKeyFor(sreq), Data: bytes.NewReader(stored), Size: int64(len(stored))}
		for dname, dreq := range requests(dstKey) {
			t.Run(sname+"->"+dname, func(t *testing.T) {
				up, err := e.InitiateMultipart(ctx, "b", "mp", dreq)
				require.NoError(t, err)
				var part bytes.Buffer
				w, err := e.CopyPart(ctx, src, 100, 2000, "b", "mp", up, customerKeyFor(dreq), 1, &part)
				require.NoError(t, err)
				// The same bytes uploaded as a part: the same ETag.
				direct, err := e.EncryptPart(ctx, "b", "mp", up, customerKeyFor(dreq), 2, io.Discard)
				require.NoError(t, err)
				_, _ = direct.Write(data[100:2100])
				require.NoError(t, direct.Close())
				require.Equal(t, direct.ETag(), w.ETag())
				if answersMD5(dreq.Kind) {
					require.Equal(t, md5Hex(data[100:2100]), w.ETag())
				}
				done, err := e.CompleteUpload(ctx, "b", "mp", up, []Part{{Number: 1, Size: 2000, Meta: w.Metadata()}})
				require.NoError(t, err)
				got, err := get(e, "b", "mp", done, customerKeyFor(dreq), part.Bytes())
				require.NoError(t, err)
				require.Equal(t, data[100:2100], got)
			})
		}
	}
	stored, meta := put(t, e, "src", "o", &Request{Kind: KindC, CustomerKey: srcKey}, data)
	src := CopySource{Bucket: "src", Object: "o", Meta: meta, Key: srcKey, Data: bytes.NewReader(stored), Size: int64(len(stored))}
	up, err := e.InitiateMultipart(ctx, "b", "mp", &Request{Kind: KindS3})
	require.NoError(t, err)
	for _, r := range [][2]int64{{-1, 10}, {0, 5001}, {5000, 1}, {4000, -1}} {
		_, err := e.CopyPart(ctx, src, r[0], r[1], "b", "mp", up, nil, 1, io.Discard)
		requireSSEError(t, err, "InvalidArgument", 400, ErrInvalidArgument)
	}
	_, err = e.CopyPart(ctx, src, 4999, 1, "b", "mp", up, nil, 1, io.Discard)
	require.NoError(t, err)
	noKey := src
	noKey.Key = nil
	_, err = e.CopyPart(ctx, noKey, 0, 1, "b", "mp", up, nil, 1, io.Discard)
	requireSSEError(t, err, "InvalidRequest", 400, ErrMissingCustomerKey)
	wrong := src
	wrong.Key = testKey(t)
	_, err = e.CopyPart(ctx, wrong, 0, 1, "b", "mp", up, nil, 1, io.Discard)
	requireSSEError(t, err, "AccessDenied", 403, ErrWrongCustomerKey)
	// A source shorter than its metadata says: an error, never a short part.
	short := src
	short.Data, short.Size = bytes.NewReader(stored[:len(stored)-1]), int64(len(stored)-1)
	_, err = e.CopyPart(ctx, short, 0, 5000, "b", "mp", up, nil, 1, io.Discard)
	require.ErrorIs(t, err, ErrTampered)
}
