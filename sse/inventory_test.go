package sse

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// KeyDependency and RekeyBatch against the real Manager (local backend):
// the inventory names key and version; after a rotation RekeyBatch moves
// every KMS-wrapped object to the new version, one shared bucket key once,
// and every object stays readable with its new metadata.
func TestInventoryAndRekeyBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local-backend Manager")
	}
	m := newManager(t)
	e, err := New(m, WithSegmentSize(testSegment))
	require.NoError(t, err)
	ck := testKey(t)
	type obj struct {
		bucket, object string
		req            *Request
		want           KeyDependency
		stored         []byte
		meta           map[string]string
	}
	objs := []*obj{
		{bucket: "b", object: "s3-1", req: &Request{Kind: KindS3}, want: KeyDependency{Kind: KindS3, KMSKeyID: "default", BucketKey: true}},
		{bucket: "b", object: "s3-2", req: &Request{Kind: KindS3}, want: KeyDependency{Kind: KindS3, KMSKeyID: "default", BucketKey: true}},
		{bucket: "b", object: "kms", req: &Request{Kind: KindKMS, KMSKeyID: "app", KMSContext: map[string]string{"t": "1"}}, want: KeyDependency{Kind: KindKMS, KMSKeyID: "app"}},
		{bucket: "c", object: "kms-bk", req: &Request{Kind: KindKMS, KMSKeyID: "app", BucketKeyEnabled: true}, want: KeyDependency{Kind: KindKMS, KMSKeyID: "app", BucketKey: true}},
		{bucket: "b", object: "ssec", req: &Request{Kind: KindC, CustomerKey: ck}, want: KeyDependency{Kind: KindC}},
	}
	data := randBytes(1000)
	for _, o := range objs {
		o.stored, o.meta = put(t, e, o.bucket, o.object, o.req, data)
		d, err := e.KeyDependency(o.meta)
		require.NoError(t, err)
		want := o.want
		if want.Kind != KindC {
			want.KeyVersion = 1
		}
		require.Equal(t, want, d, o.object)
	}
	d, err := e.KeyDependency(map[string]string{"Content-Type": "text/plain"})
	require.NoError(t, err)
	require.Equal(t, KeyDependency{Kind: KindNone}, d)

	for _, id := range []string{"default", "app"} {
		_, err := m.RotateKey(ctx, id)
		require.NoError(t, err)
	}
	e.ClearBucketKeys()
	refs := make([]ObjectRef, 0, len(objs)+2)
	for _, o := range objs {
		refs = append(refs, ObjectRef{Bucket: o.bucket, Object: o.object, Meta: o.meta})
	}
	// A per-object data key under another name fails alone; so does
	// corrupt metadata.
	refs = append(refs, ObjectRef{Bucket: "b", Object: "moved", Meta: objs[2].meta})
	corrupt := withoutSSE(objs[2].meta)
	for k, v := range objs[2].meta {
		corrupt[k] = v
	}
	corrupt[metaKMSDataKey] = "!!"
	refs = append(refs, ObjectRef{Bucket: "b", Object: "kms", Meta: corrupt})

	res, err := e.RekeyBatch(ctx, refs)
	require.NoError(t, err)
	require.Len(t, res, len(refs))
	for i, o := range objs {
		r := res[i]
		require.NoError(t, r.Err, o.object)
		if o.want.Kind == KindC {
			require.Zero(t, r.Before.KeyVersion)
			require.Nil(t, r.Meta)
			require.Equal(t, r.Before, r.After)
			continue
		}
		require.Equal(t, 1, r.Before.KeyVersion, o.object)
		require.Equal(t, 2, r.After.KeyVersion, o.object)
		d, err := e.KeyDependency(r.Meta)
		require.NoError(t, err)
		require.Equal(t, r.After, d)
		got, err := get(e, o.bucket, o.object, r.Meta, nil, o.stored)
		require.NoError(t, err, o.object)
		require.Equal(t, data, got)
		// Public entries are unchanged.
		require.Equal(t, ResponseHeaders(o.meta, nil), ResponseHeaders(r.Meta, nil))
	}
	// The two SSE-S3 objects shared a bucket key: still one, rewrapped once.
	require.Equal(t, objs[0].meta[metaKMSBucketKey], objs[1].meta[metaKMSBucketKey])
	require.Equal(t, res[0].Meta[metaKMSBucketKey], res[1].Meta[metaKMSBucketKey])
	require.NotEqual(t, objs[0].meta[metaKMSBucketKey], res[0].Meta[metaKMSBucketKey])
	requireSSEError(t, res[len(objs)].Err, "InternalError", 500, ErrTampered)
	require.ErrorIs(t, res[len(objs)+1].Err, ErrCorruptMetadata)

	// Objects written after the rotation and ClearBucketKeys depend on v2.
	_, meta := put(t, e, "b", "new", &Request{Kind: KindS3}, data)
	d, err = e.KeyDependency(meta)
	require.NoError(t, err)
	require.Equal(t, 2, d.KeyVersion)

	res, err = e.RekeyBatch(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, res)
}

// A KeyManager that can neither tell versions nor rewrap: versions are 0
// and RekeyBatch fails with ErrKMS.
func TestRekeyBatchWithoutRewrap(t *testing.T) {
	e, _ := newTestEncryptor(t)
	_, meta := put(t, e, "b", "o", &Request{Kind: KindKMS, KMSKeyID: "other"}, []byte("x"))
	d, err := e.KeyDependency(meta)
	require.NoError(t, err)
	require.Equal(t, KeyDependency{Kind: KindKMS, KMSKeyID: "other"}, d)
	_, err = e.RekeyBatch(ctx, []ObjectRef{{Bucket: "b", Object: "o", Meta: meta}})
	require.ErrorIs(t, err, ErrKMS)
}
