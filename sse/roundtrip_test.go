package sse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// sizes around the segment borders of testSegment.
var testSizes = []int{0, 1, testSegment - 56 - 1, testSegment - 56, testSegment - 56 + 1,
	2*testSegment - 72, 2*testSegment - 72 + 1, 5*testSegment + 17}

func TestRoundTripAllKinds(t *testing.T) {
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	for name, req := range requests(key) {
		for _, n := range testSizes {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				data := randBytes(n)
				stored, meta := put(t, e, "bkt", "dir/obj", req, data)
				if req.Kind != KindNone {
					want, err := EncryptedSize(meta, int64(n))
					require.NoError(t, err)
					require.Equal(t, want, int64(len(stored)))
					if n >= 16 {
						require.False(t, bytes.Contains(stored, data[:16]), "plaintext in stored bytes")
					}
				}
				got, err := DecryptedSize(meta, int64(len(stored)))
				require.NoError(t, err)
				require.Equal(t, int64(n), got)
				require.Equal(t, req.Kind, KindOf(meta))

				var k *CustomerKey
				if req.Kind == KindC {
					k = key
				}
				plain, err := get(e, "bkt", "dir/obj", meta, k, stored)
				require.NoError(t, err)
				require.Equal(t, data, plain)
			})
		}
	}
}

// TestRangeAllOffsets reads every (off, len) of small objects, single and
// multipart, through ReadAt and Range.
func TestRangeAllOffsets(t *testing.T) {
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	data := randBytes(3*testSegment + 40)
	stored, meta := put(t, e, "b", "o", &Request{Kind: KindC, CustomerKey: key}, data)
	mpData, mpStored, mpMeta := multipartObject(t, e, "b", "mp", &Request{Kind: KindKMS}, nil, []int{300, 0, 257, 600, 1})
	for _, c := range []struct {
		name   string
		data   []byte
		stored []byte
		meta   map[string]string
		key    *CustomerKey
	}{{"single", data, stored, meta, key}, {"multipart", mpData, mpStored, mpMeta, nil}} {
		t.Run(c.name, func(t *testing.T) {
			obj := map[string]string{"single": "o", "multipart": "mp"}[c.name]
			r, err := e.DecryptObject(context.Background(), "b", obj, c.meta, c.key, bytes.NewReader(c.stored), int64(len(c.stored)))
			require.NoError(t, err)
			defer r.Close()
			require.Equal(t, int64(len(c.data)), r.Size())
			n := len(c.data)
			step := 1
			if testing.Short() {
				step = 7
			}
			for off := 0; off <= n; off += step {
				for l := 0; off+l <= n+2; l += step {
					p := make([]byte, l)
					got, err := r.ReadAt(p, int64(off))
					end := min(off+l, n)
					require.Equal(t, end-off, got)
					require.Equal(t, c.data[off:end], p[:got])
					if off+l > n {
						require.Equal(t, io.EOF, err)
					} else {
						require.NoError(t, err)
					}
					if l%5 == 0 {
						b, err := io.ReadAll(r.Range(int64(off), int64(l)))
						require.NoError(t, err)
						require.Equal(t, c.data[off:end], b)
					}
				}
			}
		})
	}
}

// multipartObject uploads parts of the given sizes (numbers 1, 3, 5, ...),
// in random order and in parallel, and returns plaintext, stored bytes and
// completed metadata.
func multipartObject(t testing.TB, e *Encryptor, bucket, object string, req *Request, key *CustomerKey, sizes []int) ([]byte, []byte, map[string]string) {
	t.Helper()
	ctx := context.Background()
	meta, err := e.InitiateMultipart(ctx, bucket, object, req)
	require.NoError(t, err)
	type part struct {
		num   int
		plain []byte
		enc   bytes.Buffer
		meta  map[string]string
	}
	parts := make([]*part, len(sizes))
	for i, n := range sizes {
		parts[i] = &part{num: 2*i + 1, plain: randBytes(n)}
	}
	var wg sync.WaitGroup
	for _, i := range rand.Perm(len(parts)) {
		p := parts[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := e.EncryptPart(ctx, bucket, object, meta, key, p.num, &p.enc)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = w.Write(p.plain)
			if err := w.Close(); err != nil {
				t.Error(err)
			}
			p.meta = w.Metadata()
		}()
	}
	wg.Wait()
	sort.Slice(parts, func(i, j int) bool { return parts[i].num < parts[j].num })
	var plain, stored []byte
	var list []Part
	for _, p := range parts {
		plain = append(plain, p.plain...)
		stored = append(stored, p.enc.Bytes()...)
		ps, err := DecryptedSize(meta, int64(p.enc.Len()))
		require.NoError(t, err)
		require.Equal(t, int64(len(p.plain)), ps)
		list = append(list, Part{Number: p.num, Size: ps, Meta: p.meta})
	}
	done, err := e.CompleteUpload(ctx, bucket, object, meta, list)
	require.NoError(t, err)
	return plain, stored, done
}

func TestMultipartAllKinds(t *testing.T) {
	e, _ := newTestEncryptor(t)
	key := testKey(t)
	for name, req := range requests(key) {
		t.Run(name, func(t *testing.T) {
			var k *CustomerKey
			if req.Kind == KindC {
				k = key
			}
			plain, stored, meta := multipartObject(t, e, "b", "big/object", req, k, []int{1000, 1000, 1000, 333, 0, 77})
			size, err := DecryptedSize(meta, int64(len(stored)))
			require.NoError(t, err)
			require.Equal(t, int64(len(plain)), size)
			got, err := get(e, "b", "big/object", meta, k, stored)
			require.NoError(t, err)
			require.Equal(t, plain, got)
		})
	}
}

func TestConcurrentReadAt(t *testing.T) {
	e, _ := newTestEncryptor(t)
	plain, stored, meta := multipartObject(t, e, "b", "o", &Request{Kind: KindS3}, nil, []int{2000, 1500, 999})
	r, err := e.DecryptObject(context.Background(), "b", "o", meta, nil, bytes.NewReader(stored), int64(len(stored)))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				off := rand.IntN(len(plain))
				l := rand.IntN(len(plain) - off + 1)
				p := make([]byte, l)
				n, err := r.ReadAt(p, int64(off))
				if err != nil || !bytes.Equal(p[:n], plain[off:off+l]) {
					t.Errorf("ReadAt(%d, %d): %d, %v", off, l, n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestConcurrencyOption(t *testing.T) {
	e, _ := newTestEncryptor(t, WithConcurrency(3))
	plain, stored, meta := multipartObject(t, e, "b", "o", &Request{Kind: KindS3}, nil, []int{2000, 1, 1500})
	for _, r := range [][2]int64{{0, int64(len(plain))}, {199, 1900}, {1999, 3}, {2001, 1499}} {
		obj, err := e.DecryptObject(ctx, "b", "o", meta, nil, bytes.NewReader(stored), int64(len(stored)))
		require.NoError(t, err)
		got, err := io.ReadAll(obj.Range(r[0], r[1]))
		require.NoError(t, err)
		require.Equal(t, plain[r[0]:r[0]+r[1]], got)
		var buf bytes.Buffer
		n, err := io.Copy(&buf, obj.Range(r[0], r[1])) // WriteTo, parallel
		require.NoError(t, err)
		require.Equal(t, r[1], n)
		require.Equal(t, plain[r[0]:r[0]+r[1]], buf.Bytes())
	}
	// A tampered segment in the middle stops the copy with an error.
	bad := bytes.Clone(stored)
	bad[len(bad)/2] ^= 1
	obj, err := e.DecryptObject(ctx, "b", "o", meta, nil, bytes.NewReader(bad), int64(len(bad)))
	require.NoError(t, err)
	var buf bytes.Buffer
	_, err = io.Copy(&buf, obj.Range(0, obj.Size()))
	requireSSEError(t, err, "InternalError", 500, ErrTampered)
	require.Less(t, buf.Len(), len(plain))
	require.Equal(t, plain[:buf.Len()], buf.Bytes())
	_, err = New(nil, WithConcurrency(0))
	requireSSEError(t, err, "InvalidArgument", 400, ErrInvalidArgument)
	_, err = New(nil, WithSegmentSize(minSegmentSize-1))
	requireSSEError(t, err, "InvalidArgument", 400, ErrInvalidArgument)
	_, err = New(nil, WithSegmentSize(maxSegmentSize+1))
	requireSSEError(t, err, "InvalidArgument", 400, ErrInvalidArgument)
}
