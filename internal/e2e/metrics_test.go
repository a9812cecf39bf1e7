package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/envkms/kms"
)

// The Manager's OpenTelemetry instruments, read through the SDK's manual
// reader: calls and errors by operation and backend type, backend latency,
// cache hits and misses, cache size, breaker state. No attribute names a key.
func TestManagerMetrics(t *testing.T) {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(ctx) })
	m := kms.NewManager(kms.WithMeterProvider(mp), kms.WithDefaultKeyCreation())
	require.NoError(t, m.Configure(ctx, kms.Config{
		BackendType: kms.BackendLocal, KeyDir: filepath.Join(t.TempDir(), "keys"),
		MasterKey: "metrics test master key, not secret", DefaultKeyID: "default",
	}))
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { _ = m.Stop(ctx) })
	ec := kms.EncryptionContext{"bucket": "b"}
	dk, err := m.GenerateDataKey(ctx, "", ec)
	require.NoError(t, err)
	for range 3 {
		_, err = m.Decrypt(ctx, dk.Ciphertext, ec) // cache hits
		require.NoError(t, err)
	}
	_, err = m.DescribeKey(ctx, "missing-key-id")
	require.ErrorIs(t, err, kms.ErrKeyNotFound)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	got := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, mm := range sm.Metrics {
			got[mm.Name] = mm.Data
		}
	}
	sumOf := func(name string, attrs map[string]string) int64 {
		t.Helper()
		data, ok := got[name].(metricdata.Sum[int64])
		require.True(t, ok, "%s missing or not an int64 sum", name)
		var n int64
	points:
		for _, dp := range data.DataPoints {
			for k, v := range attrs {
				if val, ok := dp.Attributes.Value(attributeKey(k)); !ok || val.AsString() != v {
					continue points
				}
			}
			n += dp.Value
		}
		return n
	}
	require.Equal(t, int64(1), sumOf(kms.MetricOperations, map[string]string{"operation": "GenerateDataKey", "backend_type": "local"}))
	require.Equal(t, int64(3), sumOf(kms.MetricOperations, map[string]string{"operation": "Decrypt"}))
	require.Equal(t, int64(1), sumOf(kms.MetricErrors, map[string]string{"operation": "DescribeKey"}))
	require.Equal(t, int64(3), sumOf(kms.MetricCacheHits, nil))
	require.Zero(t, sumOf(kms.MetricCacheMisses, nil))
	hist, ok := got[kms.MetricBackendLatency].(metricdata.Histogram[float64])
	require.True(t, ok)
	require.NotEmpty(t, hist.DataPoints)
	gauge, ok := got[kms.MetricBreakerState].(metricdata.Gauge[int64])
	require.True(t, ok)
	require.Zero(t, gauge.DataPoints[0].Value, "breaker closed")
	for _, sm := range rm.ScopeMetrics {
		for _, mm := range sm.Metrics {
			require.NotContains(t, formatMetric(mm), "missing-key-id", "no key id in any attribute")
		}
	}
}
