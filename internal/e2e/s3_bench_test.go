package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
)

// BenchmarkS3Server measures PUT and ranged GET of a 64 MiB object through
// the s3server in-process (aws-sdk-go-v2 client, plain HTTP on loopback,
// anonymous so the client doesn't hash the payload for SigV4), with SSE-S3
// versus the same server with encryption off. Both variants run in the same
// process, one after the other per operation, so they share machine noise.
//
//	go test -run '^$' -bench BenchmarkS3Server -benchtime 5x ./...
func BenchmarkS3Server(b *testing.B) {
	const size = 64 << 20
	data := randomPayload(size)
	ctx := context.Background()
	type variant struct {
		name string
		env  *s3Env
	}
	var vs []variant
	for _, v := range []struct {
		name string
		off  bool
	}{{"sse-s3", false}, {"plaintext", true}} {
		conc, _ := strconv.Atoi(os.Getenv("S3BENCH_CONCURRENCY"))
		e := startS3(b, s3EnvOpts{anonymous: true, plainHTTP: true, disableEncryption: v.off, concurrency: conc})
		_, err := e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")})
		require.NoError(b, err)
		_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("get"), Body: bytes.NewReader(data)})
		require.NoError(b, err)
		vs = append(vs, variant{v.name, e})
	}
	for _, v := range vs {
		b.Run("PUT-64MiB/"+v.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				_, err := v.env.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("put"), Body: bytes.NewReader(data)})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, rng := range []struct {
		name       string
		start, end int64
	}{
		{"GET-range-64MiB", 0, size - 1},
		{"GET-range-1MiB-mid", 40<<20 + 12345, 41<<20 + 12344},
	} {
		for _, v := range vs {
			b.Run(rng.name+"/"+v.name, func(b *testing.B) {
				n := rng.end - rng.start + 1
				b.SetBytes(n)
				b.ReportAllocs()
				for b.Loop() {
					out, err := v.env.client.GetObject(ctx, &s3.GetObjectInput{
						Bucket: aws.String("bench"), Key: aws.String("get"),
						Range: aws.String(fmt.Sprintf("bytes=%d-%d", rng.start, rng.end)),
					})
					if err != nil {
						b.Fatal(err)
					}
					got, err := io.Copy(io.Discard, out.Body)
					out.Body.Close()
					if err != nil || got != n {
						b.Fatalf("read %d of %d: %v", got, n, err)
					}
				}
			})
		}
	}
}

// BenchmarkS3ServerOverhead runs the encrypted server (SSE-S3, local
// backend, default Config: Concurrency 2) and the same server with
// encryption off (DisableEncryption, MD5 ETags) alternately within each
// iteration, timing each operation separately: PUT and GET of a 64 MiB
// object (MB/s) and of a 4 KiB object (ops/s). It reports both rates, the
// overhead of encryption in wall time (%-overhead: time with SSE over time
// without, minus one) and the process CPU time per operation of each, client
// included (the client runs in the same process). On a shared machine this
// pairs the two measurements under the same load, which the separate
// sub-benchmarks of BenchmarkS3Server cannot.
//
//	go test -run '^$' -bench BenchmarkS3ServerOverhead -benchtime 20x .
func BenchmarkS3ServerOverhead(b *testing.B) {
	const size, small = 64 << 20, 4 << 10
	data := randomPayload(size)
	ctx := context.Background()
	conc, _ := strconv.Atoi(os.Getenv("S3BENCH_CONCURRENCY"))
	enc := startS3(b, s3EnvOpts{anonymous: true, plainHTTP: true, concurrency: conc})
	plain := startS3(b, s3EnvOpts{anonymous: true, plainHTTP: true, disableEncryption: true})
	for _, e := range []*s3Env{enc, plain} {
		_, err := e.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")})
		require.NoError(b, err)
		for key, body := range map[string][]byte{"get": data, "get-small": data[:small]} {
			_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(key), Body: bytes.NewReader(body)})
			require.NoError(b, err)
		}
	}
	put := func(key string, body []byte) func(*s3Env) error {
		return func(e *s3Env) error {
			_, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String(key), Body: bytes.NewReader(body)})
			return err
		}
	}
	get := func(key string, n int64, rng bool) func(*s3Env) error {
		return func(e *s3Env) error {
			in := &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String(key)}
			if rng {
				in.Range = aws.String(fmt.Sprintf("bytes=0-%d", n-1))
			}
			out, err := e.client.GetObject(ctx, in)
			if err != nil {
				return err
			}
			defer out.Body.Close()
			got, err := io.Copy(io.Discard, out.Body)
			if err == nil && got != n {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	ops := []struct {
		name string
		n    int64
		run  func(*s3Env) error
	}{
		{"PUT-64MiB", size, put("put", data)},
		{"GET-64MiB", size, get("get", size, false)},
		{"GET-range-64MiB", size, get("get", size, true)},
		{"PUT-4KiB", small, put("put-small", data[:small])},
		{"GET-4KiB", small, get("get-small", small, false)},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			var tEnc, tPlain, cEnc, cPlain time.Duration
			reps := 1
			if op.n < 1<<20 {
				reps = 200 // per iteration, so that a few iterations time enough work
			}
			for i := 0; b.Loop(); i++ {
				// Alternate which goes first, so neither always runs on a
				// warmer (or busier) machine.
				order := []*s3Env{enc, plain}
				if i%2 == 1 {
					order = []*s3Env{plain, enc}
				}
				for _, e := range order {
					start, cpu := time.Now(), processCPU()
					for range reps {
						if err := op.run(e); err != nil {
							b.Fatal(err)
						}
					}
					dt, dc := time.Since(start), processCPU()-cpu
					if e == enc {
						tEnc, cEnc = tEnc+dt, cEnc+dc
					} else {
						tPlain, cPlain = tPlain+dt, cPlain+dc
					}
				}
			}
			n := float64(b.N * reps)
			if op.n >= 1<<20 {
				mb := float64(op.n) * n / 1e6
				b.ReportMetric(mb/tEnc.Seconds(), "MB/s-sse")
				b.ReportMetric(mb/tPlain.Seconds(), "MB/s-plain")
			} else {
				b.ReportMetric(n/tEnc.Seconds(), "ops/s-sse")
				b.ReportMetric(n/tPlain.Seconds(), "ops/s-plain")
			}
			b.ReportMetric(float64(cEnc.Microseconds())/n, "cpu-µs/op-sse")
			b.ReportMetric(float64(cPlain.Microseconds())/n, "cpu-µs/op-plain")
			b.ReportMetric(100*(tEnc.Seconds()/tPlain.Seconds()-1), "%-overhead")
		})
	}
}
