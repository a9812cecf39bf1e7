package sse

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// benchKMSLatency is the backend latency of the bucket-key benchmarks: a
// KMS a network hop away.
const benchKMSLatency = time.Millisecond

// benchPut4KiB PUTs 4 KiB objects as req through a kms.Manager over
// backend/memory with 1 ms latency, each to a new name.
func benchPut4KiB(b *testing.B, req *Request) {
	m, sb := newSlowManager(b, benchKMSLatency)
	e, err := New(m)
	if err != nil {
		b.Fatal(err)
	}
	data := randBytes(4 << 10)
	var dst bytes.Buffer
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst.Reset()
		w, err := e.EncryptObject(ctx, "bench", fmt.Sprint("o", i), req, &dst)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(sb.calls())/float64(i)*1000, "kms-calls/1000ops")
}

var bucketKeyBenchRequests = []struct {
	name string
	req  *Request
}{
	{"SSE-KMS/per-object-key", &Request{Kind: KindKMS, KMSKeyID: "app"}},
	{"SSE-KMS/bucket-key", &Request{Kind: KindKMS, KMSKeyID: "app", BucketKeyEnabled: true}},
	{"SSE-S3/bucket-key", &Request{Kind: KindS3}},
}

// BenchmarkBucketKeyPut4KiB: 4 KiB PUTs at 1 ms KMS latency, with and
// without bucket keys, in the same run.
func BenchmarkBucketKeyPut4KiB(b *testing.B) {
	for _, r := range bucketKeyBenchRequests {
		b.Run(r.name, func(b *testing.B) { benchPut4KiB(b, r.req) })
	}
}

// TestBucketKeySpeedup: 4 KiB PUTs with a bucket key are at least 10x as
// fast as with a data key per object at 1 ms KMS latency, measured in the
// same run.
func TestBucketKeySpeedup(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("timing (run without -race and -short)")
	}
	res := map[string]testing.BenchmarkResult{}
	for _, r := range bucketKeyBenchRequests {
		res[r.name] = testing.Benchmark(func(b *testing.B) { benchPut4KiB(b, r.req) })
		t.Logf("%s: %s", r.name, res[r.name])
	}
	perObject := float64(res["SSE-KMS/per-object-key"].NsPerOp())
	for _, name := range []string{"SSE-KMS/bucket-key", "SSE-S3/bucket-key"} {
		speedup := perObject / float64(res[name].NsPerOp())
		t.Logf("%s: %.0fx faster than a data key per object", name, speedup)
		if speedup < 10 {
			t.Errorf("%s: only %.1fx faster than per-object keys", name, speedup)
		}
	}
}
