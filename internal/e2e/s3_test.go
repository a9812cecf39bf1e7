package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/envkms/kms/internal/s3srv"
)

// secretsSeen collects what must never reach the disk.
type secretsSeen struct {
	mu         sync.Mutex
	plaintexts [][]byte
	ckeys      []ssecKey
}

func (s *secretsSeen) plain(b []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plaintexts = append(s.plaintexts, b)
	return b
}

func (s *secretsSeen) key(k ssecKey) ssecKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ckeys = append(s.ckeys, k)
	return k
}

// ssec returns the SDK's SSE-C fields for k.
func ssecPut(in *s3.PutObjectInput, k ssecKey) *s3.PutObjectInput {
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.b64), aws.String(k.md5b64)
	return in
}

func ssecGet(in *s3.GetObjectInput, k ssecKey) *s3.GetObjectInput {
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.b64), aws.String(k.md5b64)
	return in
}

func ssecHead(in *s3.HeadObjectInput, k ssecKey) *s3.HeadObjectInput {
	in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.b64), aws.String(k.md5b64)
	return in
}

func getAll(t *testing.T, c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(context.Background(), in)
	require.NoError(t, err)
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return b, out
}

func requireAPIError(t *testing.T, err error, status int, code string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, status, apiStatus(err), "status of %v", err)
	if code != "" {
		require.Equal(t, code, apiErrorCode(err), "code of %v", err)
	}
}

func createBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	_, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	require.NoError(t, err)
}

func TestS3Server(t *testing.T) {
	e := startS3(t, s3EnvOpts{})
	c := e.client
	ctx := context.Background()
	seen := &secretsSeen{}
	const bucket = "sse-bucket"
	createBucket(t, c, bucket)

	t.Run("SSE-C", func(t *testing.T) {
		k := seen.key(newSSECKey())
		data := seen.plain(randomPayload(3<<20 + 12345))
		put, err := c.PutObject(ctx, ssecPut(&s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("ssec/obj"), Body: bytes.NewReader(data)}, k))
		require.NoError(t, err)
		require.Equal(t, "AES256", aws.ToString(put.SSECustomerAlgorithm))
		require.Equal(t, k.md5b64, aws.ToString(put.SSECustomerKeyMD5))

		got, out := getAll(t, c, ssecGet(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("ssec/obj")}, k))
		require.True(t, bytes.Equal(data, got), "SSE-C round trip")
		require.Equal(t, "AES256", aws.ToString(out.SSECustomerAlgorithm))
		require.Equal(t, k.md5b64, aws.ToString(out.SSECustomerKeyMD5))

		head, err := c.HeadObject(ctx, ssecHead(&s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("ssec/obj")}, k))
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), aws.ToInt64(head.ContentLength))
		require.Equal(t, "AES256", aws.ToString(head.SSECustomerAlgorithm))

		// Missing key: 400 InvalidRequest (GET), 400 (HEAD, no body).
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("ssec/obj")})
		requireAPIError(t, err, http.StatusBadRequest, "InvalidRequest")
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("ssec/obj")})
		requireAPIError(t, err, http.StatusBadRequest, "")

		// Wrong key: 403 AccessDenied.
		wrong := seen.key(newSSECKey())
		_, err = c.GetObject(ctx, ssecGet(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("ssec/obj")}, wrong))
		requireAPIError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = c.HeadObject(ctx, ssecHead(&s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("ssec/obj")}, wrong))
		requireAPIError(t, err, http.StatusForbidden, "")

		// Key whose MD5 doesn't match: 400 InvalidArgument.
		bad := k
		bad.md5b64 = wrong.md5b64
		_, err = c.GetObject(ctx, ssecGet(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("ssec/obj")}, bad))
		requireAPIError(t, err, http.StatusBadRequest, "InvalidArgument")
		// Short key.
		short := k
		short.b64 = base64.StdEncoding.EncodeToString(k.raw[:16])
		_, err = c.PutObject(ctx, ssecPut(&s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("ssec/short"), Body: strings.NewReader("x")}, short))
		requireAPIError(t, err, http.StatusBadRequest, "InvalidArgument")
	})

	t.Run("SSE-S3", func(t *testing.T) {
		data := seen.plain(randomPayload(1<<20 + 7))
		put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("sses3"), Body: bytes.NewReader(data), ServerSideEncryption: types.ServerSideEncryptionAes256})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAes256, put.ServerSideEncryption)
		got, out := getAll(t, c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("sses3")})
		require.True(t, bytes.Equal(data, got))
		require.Equal(t, types.ServerSideEncryptionAes256, out.ServerSideEncryption)
		// SSE-C key for an object that is not SSE-C: 400.
		_, err = c.GetObject(ctx, ssecGet(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("sses3")}, newSSECKey()))
		requireAPIError(t, err, http.StatusBadRequest, "InvalidRequest")
		// No header and no bucket default: still SSE-S3, as S3 does.
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("implicit"), Body: bytes.NewReader(seen.plain(randomPayload(1000)))})
		require.NoError(t, err)
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("implicit")})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAes256, head.ServerSideEncryption)
	})

	kmsKey := e.createKMSKey("e2e SSE-KMS key")

	t.Run("SSE-KMS", func(t *testing.T) {
		data := seen.plain(randomPayload(2<<20 + 99))
		ectx := base64.StdEncoding.EncodeToString([]byte(`{"department":"finance","project":"e2e"}`))
		put, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("kms/obj"), Body: bytes.NewReader(data),
			ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(kmsKey),
			SSEKMSEncryptionContext: aws.String(ectx),
		})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAwsKms, put.ServerSideEncryption)
		require.Contains(t, aws.ToString(put.SSEKMSKeyId), kmsKey)
		got, out := getAll(t, c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("kms/obj")})
		require.True(t, bytes.Equal(data, got))
		require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
		require.Contains(t, aws.ToString(out.SSEKMSKeyId), kmsKey)

		// Default KMS key (no key id).
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("kms/default"), Body: bytes.NewReader(seen.plain(randomPayload(5000))), ServerSideEncryption: types.ServerSideEncryptionAwsKms})
		require.NoError(t, err)
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("kms/default")})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAwsKms, head.ServerSideEncryption)

		// Unknown key: KMS.NotFoundException 400.
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("kms/unknown"), Body: strings.NewReader("x"), ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String("no-such-key")})
		requireAPIError(t, err, http.StatusBadRequest, "KMS.NotFoundException")
		// Malformed context.
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("kms/badctx"), Body: strings.NewReader("x"), ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSEncryptionContext: aws.String("not base64 json")})
		requireAPIError(t, err, http.StatusBadRequest, "")
		// Nothing was stored for the refused requests.
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("kms/unknown")})
		requireAPIError(t, err, http.StatusNotFound, "")
		// SSE-KMS headers on GET are refused, as S3 does.
		resp, b := e.signedRequest(http.MethodGet, "/"+bucket+"/kms/obj", nil, http.Header{"X-Amz-Server-Side-Encryption": {"aws:kms"}})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", b)
	})

	t.Run("BucketDefaultEncryption", func(t *testing.T) {
		const kb = "kms-default-bucket"
		createBucket(t, c, kb)
		// A bucket without configuration reports SSE-S3.
		ge, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(kb)})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAes256, ge.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm)

		_, err = c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
			Bucket: aws.String(kb),
			ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(kmsKey)},
			}}},
		})
		require.NoError(t, err)
		ge, err = c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(kb)})
		require.NoError(t, err)
		def := ge.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault
		require.Equal(t, types.ServerSideEncryptionAwsKms, def.SSEAlgorithm)
		require.Equal(t, kmsKey, aws.ToString(def.KMSMasterKeyID))

		data := seen.plain(randomPayload(4096))
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(kb), Key: aws.String("o"), Body: bytes.NewReader(data)})
		require.NoError(t, err)
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(kb), Key: aws.String("o")})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAwsKms, head.ServerSideEncryption)
		require.Contains(t, aws.ToString(head.SSEKMSKeyId), kmsKey)
		// An explicit request wins over the default.
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(kb), Key: aws.String("s3"), Body: bytes.NewReader(data), ServerSideEncryption: types.ServerSideEncryptionAes256})
		require.NoError(t, err)
		head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(kb), Key: aws.String("s3")})
		require.NoError(t, err)
		require.Equal(t, types.ServerSideEncryptionAes256, head.ServerSideEncryption)
		// Unknown key id refused.
		_, err = c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
			Bucket: aws.String(kb),
			ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String("missing-key")},
			}}},
		})
		requireAPIError(t, err, http.StatusBadRequest, "")
	})

	t.Run("Ranges", func(t *testing.T) {
		k := seen.key(newSSECKey())
		size := 3<<20 + 333
		data := seen.plain(randomPayload(size))
		_, err := c.PutObject(ctx, ssecPut(&s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("range/ssec"), Body: bytes.NewReader(data)}, k))
		require.NoError(t, err)
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("range/kms"), Body: bytes.NewReader(data), ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(kmsKey)})
		require.NoError(t, err)
		seg := 1 << 20
		ranges := []struct {
			h          string
			start, end int // inclusive
		}{
			{"bytes=0-0", 0, 0},
			{"bytes=0-99", 0, 99},
			{fmt.Sprintf("bytes=%d-%d", seg-100, seg+100), seg - 100, seg + 100},
			{fmt.Sprintf("bytes=%d-%d", seg-40, seg-40), seg - 40, seg - 40},
			{fmt.Sprintf("bytes=%d-%d", 2*seg-1, 2*seg), 2*seg - 1, 2 * seg},
			{fmt.Sprintf("bytes=%d-", size-10), size - 10, size - 1},
			{fmt.Sprintf("bytes=%d-", 5), 5, size - 1},
			{"bytes=-1", size - 1, size - 1},
			{"bytes=-500000", size - 500000, size - 1},
			{fmt.Sprintf("bytes=-%d", size+100), 0, size - 1},
			{fmt.Sprintf("bytes=100-%d", size+100), 100, size - 1},
		}
		for _, obj := range []string{"range/ssec", "range/kms"} {
			for _, r := range ranges {
				in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(obj), Range: aws.String(r.h)}
				if obj == "range/ssec" {
					ssecGet(in, k)
				}
				got, out := getAll(t, c, in)
				require.True(t, bytes.Equal(data[r.start:r.end+1], got), "%s %s", obj, r.h)
				require.Equal(t, fmt.Sprintf("bytes %d-%d/%d", r.start, r.end, size), aws.ToString(out.ContentRange), "%s %s", obj, r.h)
			}
			for _, h := range []string{fmt.Sprintf("bytes=%d-", size), fmt.Sprintf("bytes=%d-%d", size+5, size+10), "bytes=-0"} {
				in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(obj), Range: aws.String(h)}
				if obj == "range/ssec" {
					ssecGet(in, k)
				}
				_, err := c.GetObject(ctx, in)
				requireAPIError(t, err, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
			}
		}
		// The wrong key stays wrong for ranges.
		_, err = c.GetObject(ctx, ssecGet(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("range/ssec"), Range: aws.String("bytes=-10")}, newSSECKey()))
		requireAPIError(t, err, http.StatusForbidden, "AccessDenied")
	})

	t.Run("Multipart", func(t *testing.T) {
		k := seen.key(newSSECKey())
		for _, mode := range []string{"SSE-C", "SSE-KMS"} {
			key := "mp/" + mode
			parts := [][]byte{seen.plain(randomPayload(5 << 20)), seen.plain(randomPayload(5<<20 + 17)), seen.plain(randomPayload(1<<20 + 3))}
			create := &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), ContentType: aws.String("application/x-test")}
			if mode == "SSE-C" {
				create.SSECustomerAlgorithm, create.SSECustomerKey, create.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.b64), aws.String(k.md5b64)
			} else {
				create.ServerSideEncryption, create.SSEKMSKeyId = types.ServerSideEncryptionAwsKms, aws.String(kmsKey)
				create.SSEKMSEncryptionContext = aws.String(base64.StdEncoding.EncodeToString([]byte(`{"upload":"multipart"}`)))
			}
			mpu, err := c.CreateMultipartUpload(ctx, create)
			require.NoError(t, err)
			upload := func(n int, body []byte) (string, error) {
				in := &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mpu.UploadId, PartNumber: aws.Int32(int32(n)), Body: bytes.NewReader(body)}
				if mode == "SSE-C" {
					in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k.b64), aws.String(k.md5b64)
				}
				out, err := c.UploadPart(ctx, in)
				if err != nil {
					return "", err
				}
				return aws.ToString(out.ETag), nil
			}
			// Part 2 first with other content; it is replaced below.
			_, err = upload(2, randomPayload(5<<20+17))
			require.NoError(t, err)
			etags := make([]string, len(parts))
			var wg sync.WaitGroup
			errs := make([]error, len(parts))
			for i := len(parts) - 1; i >= 0; i-- { // out of order, in parallel
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					etags[i], errs[i] = upload(i+1, parts[i])
				}(i)
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			if mode == "SSE-C" {
				// A part with another (or no) key is refused.
				_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mpu.UploadId, PartNumber: aws.Int32(4), Body: strings.NewReader("x")})
				requireAPIError(t, err, http.StatusBadRequest, "")
			}
			lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mpu.UploadId})
			require.NoError(t, err)
			require.Len(t, lp.Parts, 3)
			var cparts []types.CompletedPart
			for i, et := range etags {
				cparts = append(cparts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: aws.String(et)})
			}
			done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
				Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mpu.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: cparts},
			})
			require.NoError(t, err)
			require.True(t, strings.HasSuffix(strings.Trim(aws.ToString(done.ETag), `"`), "-3"))

			whole := bytes.Join(parts, nil)
			get := func(rng string) *s3.GetObjectInput {
				in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
				if rng != "" {
					in.Range = aws.String(rng)
				}
				if mode == "SSE-C" {
					ssecGet(in, k)
				}
				return in
			}
			got, out := getAll(t, c, get(""))
			require.True(t, bytes.Equal(whole, got), "%s multipart round trip", mode)
			require.Equal(t, "application/x-test", aws.ToString(out.ContentType))
			p1 := len(parts[0])
			p2 := p1 + len(parts[1])
			for _, r := range [][2]int{{p1 - 10, p1 + 10}, {p2 - 1, p2}, {p1 - 5, p2 + 5}, {0, len(whole) - 1}} {
				got, _ := getAll(t, c, get(fmt.Sprintf("bytes=%d-%d", r[0], r[1])))
				require.True(t, bytes.Equal(whole[r[0]:r[1]+1], got), "%s range %v", mode, r)
			}
			got, _ = getAll(t, c, get("bytes=-100"))
			require.True(t, bytes.Equal(whole[len(whole)-100:], got))
		}
		// Abort removes the upload.
		mpu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp/aborted")})
		require.NoError(t, err)
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("mp/aborted"), UploadId: mpu.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(seen.plain(randomPayload(1000)))})
		require.NoError(t, err)
		_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp/aborted"), UploadId: mpu.UploadId})
		require.NoError(t, err)
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("mp/aborted"), UploadId: mpu.UploadId, PartNumber: aws.Int32(2), Body: strings.NewReader("x")})
		requireAPIError(t, err, http.StatusNotFound, "NoSuchUpload")
	})

	t.Run("CopyObject", func(t *testing.T) {
		oldK, newK := seen.key(newSSECKey()), seen.key(newSSECKey())
		data := seen.plain(randomPayload(2<<20 + 5))
		_, err := c.PutObject(ctx, ssecPut(&s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/src"), Body: bytes.NewReader(data), Metadata: map[string]string{"color": "blue"}}, oldK))
		require.NoError(t, err)

		// SSE-C -> SSE-C with a new key, to another key.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("copy/dst"), CopySource: aws.String(bucket + "/copy/src"),
			CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(oldK.b64), CopySourceSSECustomerKeyMD5: aws.String(oldK.md5b64),
			SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(newK.b64), SSECustomerKeyMD5: aws.String(newK.md5b64),
		})
		require.NoError(t, err)
		got, out := getAll(t, c, ssecGet(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/dst")}, newK))
		require.True(t, bytes.Equal(data, got))
		require.Equal(t, "blue", out.Metadata["color"])
		_, err = c.GetObject(ctx, ssecGet(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/dst")}, oldK))
		requireAPIError(t, err, http.StatusForbidden, "AccessDenied")
		// Without the source key the copy is refused.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/nokey"), CopySource: aws.String(bucket + "/copy/src")})
		requireAPIError(t, err, http.StatusBadRequest, "")

		// In place: re-seal under the new key, payload untouched.
		_, dataFile := objectFiles(t, e.dir, bucket, "copy/src")
		before, err := os.ReadFile(dataFile)
		require.NoError(t, err)
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("copy/src"), CopySource: aws.String(bucket + "/copy/src"),
			CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(oldK.b64), CopySourceSSECustomerKeyMD5: aws.String(oldK.md5b64),
			SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(newK.b64), SSECustomerKeyMD5: aws.String(newK.md5b64),
		})
		require.NoError(t, err)
		_, dataFile2 := objectFiles(t, e.dir, bucket, "copy/src")
		require.Equal(t, dataFile, dataFile2, "in-place rekey must keep the payload file")
		after, err := os.ReadFile(dataFile2)
		require.NoError(t, err)
		require.True(t, bytes.Equal(before, after), "in-place rekey must not rewrite the payload")
		got, _ = getAll(t, c, ssecGet(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/src")}, newK))
		require.True(t, bytes.Equal(data, got))
		_, err = c.GetObject(ctx, ssecGet(&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/src")}, oldK))
		requireAPIError(t, err, http.StatusForbidden, "AccessDenied")

		// SSE-S3 -> SSE-KMS, to another key and in place.
		plain := seen.plain(randomPayload(1<<20 + 1))
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/s3"), Body: bytes.NewReader(plain), ServerSideEncryption: types.ServerSideEncryptionAes256})
		require.NoError(t, err)
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("copy/kms"), CopySource: aws.String(bucket + "/copy/s3"),
			ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(kmsKey),
		})
		require.NoError(t, err)
		got, out = getAll(t, c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/kms")})
		require.True(t, bytes.Equal(plain, got))
		require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)

		_, s3File := objectFiles(t, e.dir, bucket, "copy/s3")
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("copy/s3"), CopySource: aws.String(bucket + "/copy/s3"),
			ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(kmsKey),
		})
		require.NoError(t, err)
		_, s3File2 := objectFiles(t, e.dir, bucket, "copy/s3")
		require.Equal(t, s3File, s3File2)
		got, out = getAll(t, c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/s3")})
		require.True(t, bytes.Equal(plain, got))
		require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)

		// Copy onto itself changing nothing is illegal, as in S3.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/kms"), CopySource: aws.String(bucket + "/copy/kms")})
		requireAPIError(t, err, http.StatusBadRequest, "InvalidRequest")
		// Metadata REPLACE in place keeps the data readable.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/kms"), CopySource: aws.String(bucket + "/copy/kms"),
			MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"shape": "round"}})
		require.NoError(t, err)
		got, out = getAll(t, c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/kms")})
		require.True(t, bytes.Equal(plain, got))
		require.Equal(t, "round", out.Metadata["shape"])
	})

	t.Run("ListAndDelete", func(t *testing.T) {
		const lb = "list-bucket"
		createBucket(t, c, lb)
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(lb)})
		requireAPIError(t, err, http.StatusConflict, "BucketAlreadyOwnedByYou")
		var keys []string
		for i := range 7 {
			keys = append(keys, fmt.Sprintf("a/%02d", i))
		}
		keys = append(keys, "b/x", "b/y/z", "c")
		for _, k := range keys {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(lb), Key: aws.String(k), Body: strings.NewReader("v-" + k)})
			require.NoError(t, err)
		}
		var listed []string
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(lb), MaxKeys: aws.Int32(3)})
		pages := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			require.NoError(t, err)
			pages++
			for _, o := range page.Contents {
				listed = append(listed, aws.ToString(o.Key))
				require.Equal(t, int64(len("v-"+aws.ToString(o.Key))), aws.ToInt64(o.Size))
			}
		}
		require.Equal(t, keys, listed)
		require.Equal(t, 4, pages)
		pre, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(lb), Prefix: aws.String("b/")})
		require.NoError(t, err)
		require.Len(t, pre.Contents, 2)
		del, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(lb), Delimiter: aws.String("/")})
		require.NoError(t, err)
		require.Len(t, del.Contents, 1)
		require.Len(t, del.CommonPrefixes, 2)

		lbs, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		require.NoError(t, err)
		var names []string
		for _, b := range lbs.Buckets {
			names = append(names, aws.ToString(b.Name))
		}
		require.Contains(t, names, lb)

		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(lb)})
		requireAPIError(t, err, http.StatusConflict, "BucketNotEmpty")
		for _, k := range keys {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(lb), Key: aws.String(k)})
			require.NoError(t, err)
		}
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(lb), Key: aws.String("c")})
		requireAPIError(t, err, http.StatusNotFound, "NoSuchKey")
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(lb)})
		require.NoError(t, err)
		_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(lb)})
		requireAPIError(t, err, http.StatusNotFound, "")
		_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("x"), Body: strings.NewReader("x")})
		requireAPIError(t, err, http.StatusNotFound, "NoSuchBucket")
	})

	t.Run("Authentication", func(t *testing.T) {
		// Wrong secret.
		bad := e.newClient(e.ak, "wrong-secret-key")
		_, err := bad.ListBuckets(ctx, &s3.ListBucketsInput{})
		requireAPIError(t, err, http.StatusForbidden, "AccessDenied")
		_, err = bad.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("intruder"), Body: strings.NewReader("x")})
		requireAPIError(t, err, http.StatusForbidden, "AccessDenied")
		// Unknown access key.
		_, err = e.newClient("AKUNKNOWN", e.sk).ListBuckets(ctx, &s3.ListBucketsInput{})
		requireAPIError(t, err, http.StatusForbidden, "AccessDenied")
		// Anonymous (unsigned).
		_, err = e.newClient("", "").GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("sses3")})
		requireAPIError(t, err, http.StatusForbidden, "AccessDenied")
		resp, err := e.http.Get(e.url + "/" + bucket + "/sses3")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Contains(t, string(body), "<Code>AccessDenied</Code>")
		require.Contains(t, string(body), "<RequestId>")
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("intruder")})
		requireAPIError(t, err, http.StatusNotFound, "")

		// Presigned URLs (query-string SigV4) work; altered ones don't.
		ps, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("sses3")})
		require.NoError(t, err)
		resp, err = e.http.Get(ps.URL)
		require.NoError(t, err)
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		resp, err = e.http.Get(strings.Replace(ps.URL, "/sses3?", "/implicit?", 1))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "presigned URL for another key")

		// A signed body that differs from its signed hash is refused and not stored.
		req, _ := http.NewRequest(http.MethodPut, e.url+"/"+bucket+"/tampered", strings.NewReader("the signed body"))
		resp2, b := e.signedRequestRaw(req, []byte("the signed body"), []byte("a different body"))
		require.Equal(t, http.StatusForbidden, resp2.StatusCode, "%s", b)
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("tampered")})
		requireAPIError(t, err, http.StatusNotFound, "")

		// The admin API answers in its own JSON.
		resp, err = e.http.Get(e.url + s3srv.AdminPrefix + "kms/status")
		require.NoError(t, err)
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, resp.StatusCode)
		var je struct{ Code, Message string }
		require.NoError(t, json.Unmarshal(body, &je), "%s", body)
		require.Equal(t, "AccessDenied", je.Code)
		var st struct {
			Status string `json:"status"`
		}
		require.Equal(t, http.StatusOK, e.adminJSON(http.MethodGet, "kms/status", nil, &st))
		require.Equal(t, "Running", st.Status)
	})

	t.Run("InternalMetadataHeadersIgnored", func(t *testing.T) {
		data := seen.plain(randomPayload(5000))
		hdr := http.Header{}
		hdr.Set("X-Envkms-Internal-Sealed-Key", "AAAA")
		hdr.Set("X-Amz-Meta-X-Envkms-Internal-Version", "99")
		hdr.Set("X-Amz-Meta-Ok", "yes")
		resp, b := e.signedRequest(http.MethodPut, "/"+bucket+"/injected", data, hdr)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
		got, out := getAll(t, c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("injected")})
		require.True(t, bytes.Equal(data, got))
		require.Equal(t, "yes", out.Metadata["ok"])
		resp, _ = e.signedRequest(http.MethodHead, "/"+bucket+"/injected", nil, nil)
		for name := range resp.Header {
			require.False(t, strings.Contains(strings.ToLower(name), "envkms"), "response leaks internal header %s", name)
		}
	})

	t.Run("SwappedFilesDetected", func(t *testing.T) {
		a, b := seen.plain(randomPayload(100_000)), seen.plain(randomPayload(100_000))
		for _, kind := range []string{"SSE-S3", "SSE-C"} {
			k := seen.key(newSSECKey())
			put := func(key string, data []byte) {
				in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}
				if kind == "SSE-C" {
					ssecPut(in, k)
				}
				_, err := c.PutObject(ctx, in)
				require.NoError(t, err)
			}
			get := func(key string) ([]byte, error) {
				in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
				if kind == "SSE-C" {
					ssecGet(in, k)
				}
				out, err := c.GetObject(ctx, in)
				if err != nil {
					return nil, err
				}
				defer out.Body.Close()
				return io.ReadAll(out.Body)
			}
			ka, kb := "swap/"+kind+"/a", "swap/"+kind+"/b"
			put(ka, a)
			put(kb, b)
			sa, da := objectFiles(t, e.dir, bucket, ka)
			sb, db := objectFiles(t, e.dir, bucket, kb)
			for _, variant := range []struct {
				name  string
				pairs [][2]string
			}{
				{"sidecars", [][2]string{{sa, sb}}},
				{"data", [][2]string{{da, db}}},
				{"both", [][2]string{{sa, sb}, {da, db}}},
			} {
				for _, p := range variant.pairs {
					swapFiles(t, p[0], p[1])
				}
				for _, key := range []string{ka, kb} {
					got, err := get(key)
					require.Error(t, err, "%s: %s swapped, GET %s must fail, got %d bytes", kind, variant.name, key, len(got))
				}
				for _, p := range variant.pairs {
					swapFiles(t, p[0], p[1])
				}
			}
			got, err := get(ka)
			require.NoError(t, err)
			require.True(t, bytes.Equal(a, got), "restored files read again")
		}

		// Two parts of one multipart object swapped on disk.
		mk := "swap/multipart"
		p1, p2 := seen.plain(randomPayload(5<<20)), seen.plain(randomPayload(5<<20))
		mpu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(mk)})
		require.NoError(t, err)
		var cparts []types.CompletedPart
		for i, p := range [][]byte{p1, p2} {
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(mk), UploadId: mpu.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
			require.NoError(t, err)
			cparts = append(cparts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
		}
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(mk), UploadId: mpu.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: cparts}})
		require.NoError(t, err)
		_, df := objectFiles(t, e.dir, bucket, mk)
		stored, err := os.ReadFile(df)
		require.NoError(t, err)
		require.Zero(t, len(stored)%2, "equal parts")
		half := len(stored) / 2
		swapped := append(append([]byte(nil), stored[half:]...), stored[:half]...)
		require.NoError(t, os.WriteFile(df, swapped, 0o600))
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(mk)})
		require.Error(t, err, "swapped parts must not decrypt")
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(mk), Range: aws.String(fmt.Sprintf("bytes=%d-%d", 6<<20, 6<<20+10))})
		require.Error(t, err, "a range in a swapped part must not decrypt")
		// Truncated object: never a shorter clean object.
		require.NoError(t, os.WriteFile(df, stored[:len(stored)-100], 0o600))
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(mk), Range: aws.String("bytes=-10")})
		require.Error(t, err, "truncated object must not read")
		require.NoError(t, os.WriteFile(df, stored, 0o600))
		got, _ := getAll(t, c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(mk)})
		require.True(t, bytes.Equal(append(append([]byte(nil), p1...), p2...), got))
	})

	// Last: nothing secret on disk after everything above.
	t.Run("NothingSecretOnDisk", func(t *testing.T) {
		var needles [][]byte
		var names []string
		add := func(name string, b []byte) {
			needles = append(needles, b)
			names = append(names, name)
		}
		for i, k := range seen.ckeys {
			add(fmt.Sprintf("customer key %d (raw)", i), k.raw)
			add(fmt.Sprintf("customer key %d (base64)", i), []byte(k.b64))
			add(fmt.Sprintf("customer key %d (hex)", i), []byte(hex.EncodeToString(k.raw)))
			add(fmt.Sprintf("customer key %d (base64url)", i), []byte(base64.RawURLEncoding.EncodeToString(k.raw)))
		}
		dks := e.keys.all()
		require.NotEmpty(t, dks, "the KMS issued data keys")
		for i, dk := range dks {
			add(fmt.Sprintf("data key %d (raw)", i), dk)
			add(fmt.Sprintf("data key %d (base64)", i), []byte(base64.StdEncoding.EncodeToString(dk)))
			add(fmt.Sprintf("data key %d (hex)", i), []byte(hex.EncodeToString(dk)))
		}
		for i, p := range seen.plaintexts {
			// The marker, and 32-byte windows at the start, middle and end.
			add(fmt.Sprintf("plaintext %d marker", i), p[:33])
			for _, off := range []int{100, len(p) / 2, len(p) - 32} {
				if off >= 0 && off+32 <= len(p) {
					add(fmt.Sprintf("plaintext %d @%d", i, off), p[off:off+32])
				}
			}
		}
		files := 0
		err := filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files++
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s found in %s", names[i], path)
				}
			}
			if strings.Contains(string(b), "PLAINTEXT-MARKER") {
				t.Errorf("plaintext marker found in %s", path)
			}
			return nil
		})
		require.NoError(t, err)
		require.Greater(t, files, 20)
		// Logs carry no secret either.
		logs := e.logText()
		for i, n := range needles {
			if len(n) >= 16 && bytes.Contains([]byte(logs), n) {
				t.Errorf("%s found in the server log", names[i])
			}
		}
		require.NotContains(t, logs, e.sk)
	})
}

// signedRequestRaw signs req for signedBody but sends sentBody.
func (e *s3Env) signedRequestRaw(req *http.Request, signedBody, sentBody []byte) (*http.Response, []byte) {
	e.t.Helper()
	sum := sha256Hex(signedBody)
	req.Header.Set("X-Amz-Content-Sha256", sum)
	req.Body = io.NopCloser(bytes.NewReader(sentBody))
	req.ContentLength = int64(len(sentBody))
	creds := aws.Credentials{AccessKeyID: e.ak, SecretAccessKey: e.sk}
	require.NoError(e.t, signV4(req, creds, sum))
	resp, err := e.http.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestS3ServerInsecureSSEC(t *testing.T) {
	ctx := context.Background()
	k := newSSECKey()
	for _, allow := range []bool{false, true} {
		e := startS3(t, s3EnvOpts{plainHTTP: true, allowInsecureSSEC: allow})
		createBucket(t, e.client, "plain")
		_, err := e.client.PutObject(ctx, ssecPut(&s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("o"), Body: strings.NewReader("secret data")}, k))
		if !allow {
			requireAPIError(t, err, http.StatusBadRequest, "InvalidRequest")
			// Nor on GET.
			_, err = e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("o"), Body: strings.NewReader("data")})
			require.NoError(t, err)
			_, err = e.client.GetObject(ctx, ssecGet(&s3.GetObjectInput{Bucket: aws.String("plain"), Key: aws.String("o")}, k))
			requireAPIError(t, err, http.StatusBadRequest, "InvalidRequest")
			continue
		}
		require.NoError(t, err)
		got, _ := getAll(t, e.client, ssecGet(&s3.GetObjectInput{Bucket: aws.String("plain"), Key: aws.String("o")}, k))
		require.Equal(t, "secret data", string(got))
	}
}

func TestS3ServerAnonymousWarns(t *testing.T) {
	e := startS3(t, s3EnvOpts{anonymous: true})
	require.Contains(t, e.logText(), "level=WARN")
	require.Contains(t, e.logText(), "NO CREDENTIALS")
	createBucket(t, e.client, "anon")
	_, err := e.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("anon"), Key: aws.String("k"), Body: strings.NewReader("v")})
	require.NoError(t, err)
}

// TestS3ServerSDKDefaultChecksums drives the server with the SDK's default
// checksum behaviour (as config.LoadDefaultConfig sets it): over HTTPS every
// upload is an aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER body with a
// CRC32 trailer, which the server decodes and verifies.
func TestS3ServerSDKDefaultChecksums(t *testing.T) {
	for _, anonymous := range []bool{true, false} {
		t.Run(fmt.Sprintf("anonymous=%v", anonymous), func(t *testing.T) {
			e := startS3(t, s3EnvOpts{anonymous: anonymous, sdkDefaultChecksums: true})
			c := e.client
			ctx := context.Background()
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shapes")})
			require.NoError(t, err)
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shapes"), Key: aws.String("probe"), Body: strings.NewReader("probe")})
			require.NoError(t, err)
			k := newSSECKey()
			for _, n := range []int{1, 70_000, 1<<20 + 3} {
				data := randomPayload(max(n, 33))[:n]
				for _, seekable := range []bool{true, false} {
					var body io.Reader = bytes.NewReader(data)
					if !seekable {
						body = struct{ io.Reader }{body}
					}
					key := fmt.Sprintf("shapes/%d/%v", n, seekable)
					_, err := c.PutObject(ctx, ssecPut(&s3.PutObjectInput{Bucket: aws.String("shapes"), Key: aws.String(key), Body: body, ContentLength: aws.Int64(int64(n))}, k))
					require.NoError(t, err, "upload of %d bytes", n)
					got, _ := getAll(t, c, ssecGet(&s3.GetObjectInput{Bucket: aws.String("shapes"), Key: aws.String(key)}, k))
					require.True(t, bytes.Equal(data, got), "%d bytes", n)
				}
			}
			// Multipart parts go the same way.
			mpu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("shapes"), Key: aws.String("mp")})
			require.NoError(t, err)
			p1, p2 := randomPayload(5<<20), randomPayload(1000)
			var parts []types.CompletedPart
			for i, p := range [][]byte{p1, p2} {
				out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("shapes"), Key: aws.String("mp"), UploadId: mpu.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
				require.NoError(t, err)
				parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
			}
			_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("shapes"), Key: aws.String("mp"), UploadId: mpu.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
			require.NoError(t, err)
			got, _ := getAll(t, c, &s3.GetObjectInput{Bucket: aws.String("shapes"), Key: aws.String("mp")})
			require.True(t, bytes.Equal(append(append([]byte(nil), p1...), p2...), got))
			require.Contains(t, e.logText(), "content_sha256=STREAMING-UNSIGNED-PAYLOAD-TRAILER aws_chunked=true trailer=x-amz-checksum-crc32")
		})
	}
}

// TestS3ServerStoredHeaderLimits drives the header caps and page-sized
// listing through the SDK: a PUT whose headers exceed S3's 8 KB is refused
// with S3's error code and stores nothing; a listing of one key at a time
// pages through a bucket of many objects with the SDK's paginator; and an
// object whose sidecar lost its sse metadata is refused, not served.
func TestS3ServerStoredHeaderLimits(t *testing.T) {
	e := startS3(t, s3EnvOpts{})
	c := e.client
	ctx := context.Background()
	createBucket(t, c, "limits")
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("limits"), Key: aws.String("big-headers"),
		Body: strings.NewReader("x"), ContentDisposition: aws.String(strings.Repeat("d", 9<<10))})
	requireAPIError(t, err, http.StatusBadRequest, "RequestHeaderSectionTooLarge")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("limits"), Key: aws.String("big-headers")})
	require.Equal(t, http.StatusNotFound, apiStatus(err))

	var want []string
	for i := range 30 {
		key := fmt.Sprintf("many/%03d", i)
		want = append(want, key)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("limits"), Key: aws.String(key), Body: strings.NewReader(key)})
		require.NoError(t, err)
	}
	var got []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("limits"), Prefix: aws.String("many/"), MaxKeys: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Contents), 1)
		for _, o := range page.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	require.Equal(t, want, got)

	// Strip the sse block of a sidecar and replace the data: refused.
	sidecar, data := objectFiles(t, e.dir, "limits", "many/000")
	b, err := os.ReadFile(sidecar)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	delete(m, "sse")
	m["size"], m["stored_size"] = 6, 6
	b, err = json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(sidecar, b, 0o600))
	require.NoError(t, os.WriteFile(data, []byte("forged"), 0o600))
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("limits"), Key: aws.String("many/000")})
	require.Equal(t, http.StatusInternalServerError, apiStatus(err), "forged unencrypted object: %v", err)
}

// UploadPartCopy through the SDK: ranges of SSE-S3, SSE-KMS and SSE-C
// sources (the latter's key in the copy-source headers) become parts of an
// SSE-S3 and an SSE-C upload; S3 ETags (the MD5 for SSE-S3) throughout.
func TestS3ServerUploadPartCopy(t *testing.T) {
	e := startS3(t, s3EnvOpts{})
	c := e.client
	ctx := context.Background()
	const bucket = "partcopy"
	createBucket(t, c, bucket)
	srcKey, dstKey := newSSECKey(), newSSECKey()
	data := randomPayload(5<<20 + 4321)
	md5hex := func(b []byte) string { d := md5.Sum(b); return `"` + hex.EncodeToString(d[:]) + `"` }

	put := func(key string, in *s3.PutObjectInput) *s3.PutObjectOutput {
		in.Bucket, in.Key, in.Body = aws.String(bucket), aws.String(key), bytes.NewReader(data)
		out, err := c.PutObject(ctx, in)
		require.NoError(t, err)
		return out
	}
	s3put := put("src-s3", &s3.PutObjectInput{ServerSideEncryption: types.ServerSideEncryptionAes256})
	require.Equal(t, md5hex(data), aws.ToString(s3put.ETag), "SSE-S3 ETag is the MD5")
	kmsPut := put("src-kms", &s3.PutObjectInput{ServerSideEncryption: types.ServerSideEncryptionAwsKms})
	require.NotEqual(t, md5hex(data), aws.ToString(kmsPut.ETag), "SSE-KMS ETag is not the MD5")
	put("src-c", ssecPut(&s3.PutObjectInput{}, srcKey))

	for _, dst := range []struct {
		name string
		ssec bool
	}{{"dst-s3", false}, {"dst-c", true}} {
		t.Run(dst.name, func(t *testing.T) {
			in := &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(dst.name)}
			if dst.ssec {
				in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(dstKey.b64), aws.String(dstKey.md5b64)
			} else {
				in.ServerSideEncryption = types.ServerSideEncryptionAes256
			}
			up, err := c.CreateMultipartUpload(ctx, in)
			require.NoError(t, err)
			var want []byte
			var parts []types.CompletedPart
			for i, src := range []struct {
				key, rng string
				from, to int
			}{{"src-s3", "", 0, len(data)}, {"src-kms", "bytes=0-5242879", 0, 5 << 20}, {"src-c", "bytes=1000-2999", 1000, 3000}} {
				pin := &s3.UploadPartCopyInput{Bucket: aws.String(bucket), Key: aws.String(dst.name), UploadId: up.UploadId,
					PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String(bucket + "/" + src.key)}
				if src.rng != "" {
					pin.CopySourceRange = aws.String(src.rng)
				}
				if src.key == "src-c" {
					pin.CopySourceSSECustomerAlgorithm, pin.CopySourceSSECustomerKey, pin.CopySourceSSECustomerKeyMD5 = aws.String("AES256"), aws.String(srcKey.b64), aws.String(srcKey.md5b64)
				}
				if dst.ssec {
					pin.SSECustomerAlgorithm, pin.SSECustomerKey, pin.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(dstKey.b64), aws.String(dstKey.md5b64)
				}
				out, err := c.UploadPartCopy(ctx, pin)
				require.NoError(t, err, src.key)
				etag := aws.ToString(out.CopyPartResult.ETag)
				if dst.ssec {
					require.Equal(t, dstKey.md5b64, aws.ToString(out.SSECustomerKeyMD5))
					require.NotEqual(t, md5hex(data[src.from:src.to]), etag)
				} else {
					require.Equal(t, types.ServerSideEncryptionAes256, out.ServerSideEncryption)
					require.Equal(t, md5hex(data[src.from:src.to]), etag, "an SSE-S3 part's ETag is its MD5")
				}
				require.NotNil(t, out.CopyPartResult.LastModified)
				parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: aws.String(etag)})
				want = append(want, data[src.from:src.to]...)
			}
			done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(dst.name),
				UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
			require.NoError(t, err)
			require.True(t, strings.HasSuffix(strings.Trim(aws.ToString(done.ETag), `"`), "-3"))
			gin := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(dst.name)}
			if dst.ssec {
				gin = ssecGet(gin, dstKey)
			}
			got, out := getAll(t, c, gin)
			require.True(t, bytes.Equal(want, got), "copied parts round trip")
			require.Equal(t, aws.ToString(done.ETag), aws.ToString(out.ETag))

		})
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("errs")})
	require.NoError(t, err)
	base := func() *s3.UploadPartCopyInput {
		return &s3.UploadPartCopyInput{Bucket: aws.String(bucket), Key: aws.String("errs"), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), CopySource: aws.String(bucket + "/src-c")}
	}
	_, err = c.UploadPartCopy(ctx, base())
	requireAPIError(t, err, http.StatusBadRequest, "InvalidRequest")
	wrong := newSSECKey()
	in := base()
	in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = aws.String("AES256"), aws.String(wrong.b64), aws.String(wrong.md5b64)
	_, err = c.UploadPartCopy(ctx, in)
	requireAPIError(t, err, http.StatusForbidden, "AccessDenied")
	in = base()
	in.CopySource = aws.String(bucket + "/src-s3")
	for _, rng := range []string{"bytes=5-1", "bytes=0-99999999", "5-10"} {
		in.CopySourceRange = aws.String(rng)
		_, err = c.UploadPartCopy(ctx, in)
		requireAPIError(t, err, http.StatusBadRequest, "InvalidArgument")
	}
}
