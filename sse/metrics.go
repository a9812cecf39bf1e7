package sse

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Instrument names of the Encryptor's OpenTelemetry metrics (meter
// "github.com/envkms/kms/sse"), all int64 counters. Attributes:
//
//   - "kind": "sse-s3" or "sse-kms";
//   - "op": "put" when a new object's key is sealed (PutObject,
//     CreateMultipartUpload, the destination of CopyObject or Rekey), "get"
//     when a stored object's key is opened (GetObject, HeadObject of a
//     KMS-encrypted object if the server opens it, UploadPart, the source of
//     CopyObject or Rekey).
//
// A "KMS call" is a call to the Encryptor's KeyManager; a *kms.Manager may
// still serve a Decrypt from its data-key cache (its own metrics,
// kms.MetricCacheHits, count those).
//
// The bucket-key reuse ratio of kind and op is
// uses / (uses + bucket_key.kms_calls), and all KMS calls the Encryptor
// makes are bucket_key.kms_calls + object_key.kms_calls.
//
// No attribute names a bucket, object, key id or encryption context, on
// purpose. Cardinality: buckets and keys are unbounded and created by
// clients, so one series per bucket would let any client grow the
// exporter's memory and the operator's time-series database without bound
// (OpenTelemetry's and Prometheus's guidance: attributes from a small, fixed
// set). With kind and op there are at most 4 series per instrument. Privacy:
// /metrics is often scraped without authentication and kept far longer, and
// more widely readable, than the data; bucket names, object names and key
// ids are customer data and reveal the key layout. Per-bucket figures belong
// in access logs, per-key ones in the KMS's audit log.
const (
	// MetricBucketKeyUses counts objects sealed (put) or opened (get) with a
	// cached bucket key, without a KMS call.
	MetricBucketKeyUses = "envkms.sse.bucket_key.uses"
	// MetricBucketKeyKMSCalls counts bucket keys made (put: GenerateDataKey)
	// or unwrapped (get: Decrypt) through the KMS, failed calls included.
	MetricBucketKeyKMSCalls = "envkms.sse.bucket_key.kms_calls"
	// MetricObjectKeyKMSCalls counts per-object data keys made (put) or
	// unwrapped (get) through the KMS: objects without a bucket key
	// (WithoutBucketKeys, SSE-KMS without BucketKeyEnabled, version-1
	// objects), failed calls included.
	MetricObjectKeyKMSCalls = "envkms.sse.object_key.kms_calls"
	// MetricBucketKeyInvalidations counts times the KeyManager's
	// invalidation generation changed and every cached bucket key was
	// dropped (no attributes).
	MetricBucketKeyInvalidations = "envkms.sse.bucket_key.invalidations"
)

// WithMeterProvider makes the Encryptor record OpenTelemetry metrics (see
// the Metric* names) through mp. The default, and nil, is a no-op provider.
// BucketKeyStats are kept either way.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(e *Encryptor) { e.meterProvider = mp }
}

// metric ops
const (
	opPut = iota
	opGet
	numMetricOps
)

// metric kinds
const (
	mkS3 = iota
	mkKMS
	numMetricKinds
)

type sseInstruments struct {
	uses, bkCalls, okCalls, invalidations metric.Int64Counter
	attrs                                 [numMetricKinds][numMetricOps]metric.AddOption
}

func (e *Encryptor) initMetrics() {
	mp := e.meterProvider
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	meter := mp.Meter("github.com/envkms/kms/sse")
	nm := noop.NewMeterProvider().Meter("")
	counter := func(name, desc string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit("{object}"))
		if err != nil {
			c, _ = nm.Int64Counter(name)
		}
		return c
	}
	in := &e.inst
	in.uses = counter(MetricBucketKeyUses, "objects sealed or opened with a cached bucket key")
	in.bkCalls = counter(MetricBucketKeyKMSCalls, "bucket keys made or unwrapped through the KMS")
	in.okCalls = counter(MetricObjectKeyKMSCalls, "per-object data keys made or unwrapped through the KMS")
	in.invalidations = counter(MetricBucketKeyInvalidations, "times every cached bucket key was dropped after a KMS invalidation")
	for k, kind := range [numMetricKinds]string{"sse-s3", "sse-kms"} {
		for o, op := range [numMetricOps]string{"put", "get"} {
			in.attrs[k][o] = metric.WithAttributeSet(attribute.NewSet(attribute.String("kind", kind), attribute.String("op", op)))
		}
	}
}

func (in *sseInstruments) add(c metric.Int64Counter, k Kind, op int) {
	if c == nil {
		return
	}
	mk := mkS3
	if k == KindKMS {
		mk = mkKMS
	} else if k != KindS3 {
		return
	}
	c.Add(context.Background(), 1, in.attrs[mk][op])
}
