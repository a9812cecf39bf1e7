package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/envkms/kms"
	"github.com/envkms/kms/sse"
)

// metricReader collects an SDK manual reader and sums int64 counters by
// attributes.
type metricReader struct {
	t      testing.TB
	reader *sdkmetric.ManualReader
	rm     metricdata.ResourceMetrics
}

func newMetricReader(t testing.TB) (*metricReader, *sdkmetric.MeterProvider) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &metricReader{t: t, reader: reader}, mp
}

func (r *metricReader) collect() {
	r.t.Helper()
	r.rm = metricdata.ResourceMetrics{}
	require.NoError(r.t, r.reader.Collect(context.Background(), &r.rm))
}

// sum adds the points of counter name whose attributes include attrs
// (kind, op); 0 when the instrument has no points yet.
func (r *metricReader) sum(name, kind, op string) int64 {
	r.t.Helper()
	return r.sumAttrs(name, map[string]string{"kind": kind, "op": op})
}

// sumAttrs adds the points of counter name whose attributes include every
// non-empty value of attrs.
func (r *metricReader) sumAttrs(name string, attrs map[string]string) int64 {
	r.t.Helper()
	var n int64
	for _, sm := range r.rm.ScopeMetrics {
		for _, mm := range sm.Metrics {
			if mm.Name != name {
				continue
			}
			data, ok := mm.Data.(metricdata.Sum[int64])
			require.True(r.t, ok, "%s is not an int64 sum", name)
			require.True(r.t, data.IsMonotonic, "%s is a counter", name)
		points:
			for _, dp := range data.DataPoints {
				for k, v := range attrs {
					if v == "" {
						continue
					}
					if val, ok := dp.Attributes.Value(attributeKey(k)); !ok || val.AsString() != v {
						continue points
					}
				}
				n += dp.Value
			}
		}
	}
	return n
}

// attributeKeys returns every attribute key used by the sse instruments.
func (r *metricReader) sseAttributeKeys() map[string]bool {
	keys := map[string]bool{}
	for _, sm := range r.rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/envkms/kms/sse" {
			continue
		}
		for _, mm := range sm.Metrics {
			if data, ok := mm.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range data.DataPoints {
					for _, kv := range dp.Attributes.ToSlice() {
						keys[string(kv.Key)] = true
					}
				}
			}
		}
	}
	return keys
}

func newLocalManager(t testing.TB, opts ...kms.Option) *kms.Manager {
	t.Helper()
	ctx := context.Background()
	cache := true
	m := kms.NewManager(append([]kms.Option{kms.WithLogger(slog.New(slog.DiscardHandler)), kms.WithDefaultKeyCreation()}, opts...)...)
	require.NoError(t, m.Configure(ctx, kms.Config{
		BackendType: kms.BackendLocal, KeyDir: filepath.Join(t.TempDir(), "keys"),
		MasterKey: "bucket-key metrics test master key, not secret", DefaultKeyID: "default",
		EnableCache: &cache, MaxCachedKeys: 4096, CacheTTLSeconds: 600,
	}))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(ctx) })
	return m
}

type storedObject struct {
	data []byte
	meta map[string]string
}

func ssePut(t testing.TB, e *sse.Encryptor, bucket, object string, req *sse.Request, data []byte) storedObject {
	t.Helper()
	var buf bytes.Buffer
	w, err := e.EncryptObject(context.Background(), bucket, object, req, &buf)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return storedObject{data: bytes.Clone(buf.Bytes()), meta: w.Metadata()}
}

func sseGet(t testing.TB, e *sse.Encryptor, bucket, object string, o storedObject) []byte {
	t.Helper()
	r, err := e.DecryptObject(context.Background(), bucket, object, o.meta, nil, bytes.NewReader(o.data), int64(len(o.data)))
	require.NoError(t, err)
	defer r.Close()
	got, err := io.ReadAll(r.Range(0, r.Size()))
	require.NoError(t, err)
	return got
}

// The Encryptor's bucket-key instruments (sse.WithMeterProvider) through the
// SDK's manual reader: uses and KMS calls by kind and op, per-object KMS
// calls, invalidations; they agree with BucketKeyStats and with the
// Manager's own GenerateDataKey/Decrypt counts, and no attribute names a
// bucket, object or key.
func TestSSEBucketKeyMetrics(t *testing.T) {
	ctx := context.Background()
	mr, mp := newMetricReader(t)
	m := newLocalManager(t, kms.WithMeterProvider(mp))
	kmsKey, err := m.CreateKey(ctx, kms.CreateKeyRequest{KeyID: "tenant-key-secret-name"})
	require.NoError(t, err)
	e, err := sse.New(m, sse.WithMeterProvider(mp))
	require.NoError(t, err)

	data := make([]byte, 4096)
	_, _ = rand.Read(data)
	const n = 20
	bucket := "private-bucket-name"
	kinds := []struct {
		name string
		req  *sse.Request
	}{
		{"s3", &sse.Request{Kind: sse.KindS3}},
		{"kms-bk", &sse.Request{Kind: sse.KindKMS, KMSKeyID: kmsKey.KeyID, BucketKeyEnabled: true}},
		{"kms", &sse.Request{Kind: sse.KindKMS, KMSKeyID: kmsKey.KeyID}},
	}
	objs := map[string]storedObject{}
	for _, k := range kinds {
		for i := range n {
			name := fmt.Sprintf("%s/secret-object-%d", k.name, i)
			objs[name] = ssePut(t, e, bucket, name, k.req, data)
		}
	}
	mr.collect()
	// One bucket key per kind, n-1 objects reuse it; SSE-KMS without a
	// bucket key: one data key per object.
	require.Equal(t, int64(1), mr.sum(sse.MetricBucketKeyKMSCalls, "sse-s3", "put"))
	require.Equal(t, int64(n-1), mr.sum(sse.MetricBucketKeyUses, "sse-s3", "put"))
	require.Equal(t, int64(1), mr.sum(sse.MetricBucketKeyKMSCalls, "sse-kms", "put"))
	require.Equal(t, int64(n-1), mr.sum(sse.MetricBucketKeyUses, "sse-kms", "put"))
	require.Equal(t, int64(n), mr.sum(sse.MetricObjectKeyKMSCalls, "sse-kms", "put"))
	require.Zero(t, mr.sum(sse.MetricObjectKeyKMSCalls, "sse-s3", ""))
	require.Equal(t, int64(2+n), mr.sumAttrs(kms.MetricOperations, map[string]string{"operation": "GenerateDataKey"}),
		"the Manager saw as many GenerateDataKey calls")

	// GETs: the bucket keys are cached for reads when made.
	for name, o := range objs {
		require.Equal(t, data, sseGet(t, e, bucket, name, o))
	}
	mr.collect()
	require.Equal(t, int64(n), mr.sum(sse.MetricBucketKeyUses, "sse-s3", "get"))
	require.Equal(t, int64(n), mr.sum(sse.MetricBucketKeyUses, "sse-kms", "get"))
	require.Zero(t, mr.sum(sse.MetricBucketKeyKMSCalls, "", "get"))
	require.Equal(t, int64(n), mr.sum(sse.MetricObjectKeyKMSCalls, "sse-kms", "get"))

	// ClearCache drops every bucket key: the next GETs unwrap each bucket
	// key once.
	m.ClearCache()
	for name, o := range objs {
		require.Equal(t, data, sseGet(t, e, bucket, name, o))
	}
	mr.collect()
	require.Equal(t, int64(1), mr.sum(sse.MetricBucketKeyInvalidations, "", ""))
	require.Equal(t, int64(1), mr.sum(sse.MetricBucketKeyKMSCalls, "sse-s3", "get"))
	require.Equal(t, int64(1), mr.sum(sse.MetricBucketKeyKMSCalls, "sse-kms", "get"))
	require.Equal(t, int64(2*n-1), mr.sum(sse.MetricBucketKeyUses, "sse-s3", "get"))

	st := e.BucketKeyStats()
	require.Equal(t, st.Generated, uint64(mr.sum(sse.MetricBucketKeyKMSCalls, "", "put")))
	require.Equal(t, st.Reused, uint64(mr.sum(sse.MetricBucketKeyUses, "", "put")))
	require.Equal(t, st.Unwrapped, uint64(mr.sum(sse.MetricBucketKeyKMSCalls, "", "get")))
	require.Equal(t, st.ReadHits, uint64(mr.sum(sse.MetricBucketKeyUses, "", "get")))
	require.Equal(t, st.Dropped, uint64(mr.sum(sse.MetricBucketKeyInvalidations, "", "")))

	// Only kind and op, from a fixed set: 4 series at most per instrument.
	require.Equal(t, map[string]bool{"kind": true, "op": true}, mr.sseAttributeKeys())
	for _, sm := range mr.rm.ScopeMetrics {
		for _, mm := range sm.Metrics {
			s := formatMetric(mm)
			for _, secret := range []string{bucket, "secret-object", kmsKey.KeyID} {
				require.NotContains(t, s, secret, "%s: no bucket, object or key id in any attribute", mm.Name)
			}
		}
	}
}

// s3srv passes Config.MeterProvider to sse: a PUT and a GET through the SDK
// show up as bucket-key metrics.
func TestS3ServerBucketKeyMetrics(t *testing.T) {
	ctx := context.Background()
	mr, mp := newMetricReader(t)
	env := startS3(t, s3EnvOpts{meterProvider: mp})
	c := env.client
	createBucket(t, c, "metrics")
	for i := range 5 {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("metrics"), Key: aws.String(fmt.Sprint("o", i)),
			Body: bytes.NewReader([]byte("hello")), ServerSideEncryption: types.ServerSideEncryptionAes256})
		require.NoError(t, err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("metrics"), Key: aws.String("o0")})
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, out.Body)
	_ = out.Body.Close()
	mr.collect()
	require.Equal(t, int64(1), mr.sum(sse.MetricBucketKeyKMSCalls, "sse-s3", "put"))
	require.Equal(t, int64(4), mr.sum(sse.MetricBucketKeyUses, "sse-s3", "put"))
	// The GET opens the object key once, from the cached bucket key: its
	// ETag (the sealed MD5) comes from the reader that decrypts.
	require.Equal(t, int64(1), mr.sum(sse.MetricBucketKeyUses, "sse-s3", "get"))
	require.NotZero(t, mr.sum(kms.MetricOperations, "", ""), "the Manager's metrics share the provider")
}
