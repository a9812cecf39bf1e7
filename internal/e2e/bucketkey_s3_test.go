package e2e

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

// S3 Bucket Keys through aws-sdk-go-v2 against the embedded s3srv, as S3
// documents them ("Configuring an S3 Bucket Key at the object level",
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-bucket-key-object.html,
// and the PutObject, CopyObject, CreateMultipartUpload, UploadPart,
// CompleteMultipartUpload, HeadObject and GetObject references):
//
//   - x-amz-server-side-encryption-bucket-key-enabled on a PUT, COPY or
//     CreateMultipartUpload of an SSE-KMS object sets that object's setting,
//     and every response about the object (those, UploadPart,
//     CompleteMultipartUpload, HeadObject, GetObject) returns it;
//   - without the header, the destination bucket's setting (its default
//     encryption's BucketKeyEnabled) applies to an SSE-KMS object, whether
//     SSE-KMS came from the request or from the bucket default; "false" in
//     the request turns it off for that object; neither changes the bucket's
//     setting;
//   - a copy takes the destination's setting, not the source object's.
//
// keyRecorder counts the data keys the KMS hands out, proving the setting
// is used (one KMS call per bucket key) and not only echoed.

func bkPut(t *testing.T, c *s3.Client, bucket, key string, in *s3.PutObjectInput) *s3.PutObjectOutput {
	t.Helper()
	if in == nil {
		in = &s3.PutObjectInput{}
	}
	in.Bucket, in.Key, in.Body = aws.String(bucket), aws.String(key), bytes.NewReader([]byte("bucket key "+key))
	out, err := c.PutObject(context.Background(), in)
	require.NoError(t, err)
	return out
}

// bkState returns what HeadObject and GetObject say of key: the SSE
// algorithm and BucketKeyEnabled (both must agree).
func bkState(t *testing.T, c *s3.Client, bucket, key string) (types.ServerSideEncryption, bool) {
	t.Helper()
	ctx := context.Background()
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	body, g := getAll(t, c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NotEmpty(t, body)
	require.Equal(t, h.ServerSideEncryption, g.ServerSideEncryption, "HEAD and GET agree")
	require.Equal(t, aws.ToBool(h.BucketKeyEnabled), aws.ToBool(g.BucketKeyEnabled), "HEAD and GET agree")
	require.Equal(t, aws.ToString(h.SSEKMSKeyId), aws.ToString(g.SSEKMSKeyId))
	return h.ServerSideEncryption, aws.ToBool(h.BucketKeyEnabled)
}

func TestS3ServerBucketKeyHeader(t *testing.T) {
	ctx := context.Background()
	env := startS3(t, s3EnvOpts{})
	c := env.client
	kmsKey := env.createKMSKey("bucket keys")
	createBucket(t, c, "plain")   // no default encryption
	createBucket(t, c, "bkdef")   // SSE-KMS default with BucketKeyEnabled
	createBucket(t, c, "bkdefs3") // SSE-S3 default with BucketKeyEnabled
	putDefault := func(bucket string, alg types.ServerSideEncryption, keyID *string) {
		t.Helper()
		_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
			Bucket: aws.String(bucket),
			ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: alg, KMSMasterKeyID: keyID},
				BucketKeyEnabled:                   aws.Bool(true),
			}}},
		})
		require.NoError(t, err)
		ge, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)})
		require.NoError(t, err)
		require.True(t, aws.ToBool(ge.ServerSideEncryptionConfiguration.Rules[0].BucketKeyEnabled))
	}
	putDefault("bkdef", types.ServerSideEncryptionAwsKms, aws.String(kmsKey))
	putDefault("bkdefs3", types.ServerSideEncryptionAes256, nil)
	kmsCalls := func() int { return len(env.keys.all()) }

	t.Run("PutObject", func(t *testing.T) {
		before := kmsCalls()
		for _, key := range []string{"on-1", "on-2", "on-3"} {
			out := bkPut(t, c, "plain", key, &s3.PutObjectInput{ServerSideEncryption: types.ServerSideEncryptionAwsKms,
				SSEKMSKeyId: aws.String(kmsKey), BucketKeyEnabled: aws.Bool(true)})
			require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
			require.True(t, aws.ToBool(out.BucketKeyEnabled), "PutObject returns the header")
			alg, bk := bkState(t, c, "plain", key)
			require.Equal(t, types.ServerSideEncryptionAwsKms, alg)
			require.True(t, bk)
		}
		require.Equal(t, 1, kmsCalls()-before, "three PUTs and GETs under one bucket key: one KMS call")

		before = kmsCalls()
		for _, key := range []string{"off-1", "off-2"} {
			for _, in := range []*s3.PutObjectInput{
				{ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(kmsKey)},
				{ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(kmsKey), BucketKeyEnabled: aws.Bool(false)},
			} {
				out := bkPut(t, c, "plain", key, in)
				require.False(t, aws.ToBool(out.BucketKeyEnabled), "no bucket key: no header (S3 omits it)")
				_, bk := bkState(t, c, "plain", key)
				require.False(t, bk)
			}
		}
		require.GreaterOrEqual(t, kmsCalls()-before, 4, "per-object data keys")

		// SSE-S3 objects: S3 returns no bucket-key header for them.
		out := bkPut(t, c, "plain", "s3", &s3.PutObjectInput{ServerSideEncryption: types.ServerSideEncryptionAes256})
		require.Equal(t, types.ServerSideEncryptionAes256, out.ServerSideEncryption)
		require.Nil(t, out.BucketKeyEnabled)
		// The header asks for SSE-KMS.
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("bad"), Body: bytes.NewReader(nil),
			ServerSideEncryption: types.ServerSideEncryptionAes256, BucketKeyEnabled: aws.Bool(true)})
		requireAPIError(t, err, http.StatusBadRequest, "InvalidArgument")
	})

	t.Run("BucketDefault", func(t *testing.T) {
		before := kmsCalls()
		for _, key := range []string{"d-1", "d-2", "d-3"} {
			out := bkPut(t, c, "bkdef", key, nil) // no SSE headers
			require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption, "the bucket default applies")
			require.Equal(t, kmsKey, aws.ToString(out.SSEKMSKeyId))
			require.True(t, aws.ToBool(out.BucketKeyEnabled), "the default's BucketKeyEnabled applies")
			alg, bk := bkState(t, c, "bkdef", key)
			require.Equal(t, types.ServerSideEncryptionAwsKms, alg)
			require.True(t, bk, "HeadObject shows BucketKeyEnabled")
		}
		require.Equal(t, 1, kmsCalls()-before, "one bucket key for the bucket's objects")

		// SSE-KMS asked for in the request, without the header: the
		// bucket's setting applies.
		out := bkPut(t, c, "bkdef", "explicit", &s3.PutObjectInput{ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(kmsKey)})
		require.True(t, aws.ToBool(out.BucketKeyEnabled), "an SSE-KMS PUT into a bucket with bucket keys uses one")
		_, bk := bkState(t, c, "bkdef", "explicit")
		require.True(t, bk)
		// ... unless the request turns it off, for that object only.
		out = bkPut(t, c, "bkdef", "disabled", &s3.PutObjectInput{BucketKeyEnabled: aws.Bool(false)})
		require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
		require.False(t, aws.ToBool(out.BucketKeyEnabled))
		_, bk = bkState(t, c, "bkdef", "disabled")
		require.False(t, bk)
		ge, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("bkdef")})
		require.NoError(t, err)
		require.True(t, aws.ToBool(ge.ServerSideEncryptionConfiguration.Rules[0].BucketKeyEnabled), "the bucket's setting is unchanged")

		// An SSE-S3 default with BucketKeyEnabled (S3 accepts it): SSE-S3
		// objects show no header; an SSE-KMS PUT there gets a bucket key.
		out = bkPut(t, c, "bkdefs3", "s3", nil)
		require.Equal(t, types.ServerSideEncryptionAes256, out.ServerSideEncryption)
		require.Nil(t, out.BucketKeyEnabled)
		out = bkPut(t, c, "bkdefs3", "kms", &s3.PutObjectInput{ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(kmsKey)})
		require.True(t, aws.ToBool(out.BucketKeyEnabled))
	})

	t.Run("CopyObject", func(t *testing.T) {
		bkPut(t, c, "plain", "src", &s3.PutObjectInput{ServerSideEncryption: types.ServerSideEncryptionAwsKms,
			SSEKMSKeyId: aws.String(kmsKey), BucketKeyEnabled: aws.Bool(true)})
		copyTo := func(bucket, key string, in *s3.CopyObjectInput) *s3.CopyObjectOutput {
			t.Helper()
			if in == nil {
				in = &s3.CopyObjectInput{}
			}
			in.Bucket, in.Key, in.CopySource = aws.String(bucket), aws.String(key), aws.String("plain/src")
			out, err := c.CopyObject(ctx, in)
			require.NoError(t, err)
			return out
		}
		// The request's header sets the copy's setting.
		out := copyTo("plain", "c-on", &s3.CopyObjectInput{ServerSideEncryption: types.ServerSideEncryptionAwsKms,
			SSEKMSKeyId: aws.String(kmsKey), BucketKeyEnabled: aws.Bool(true)})
		require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
		require.True(t, aws.ToBool(out.BucketKeyEnabled), "CopyObject returns the header")
		_, bk := bkState(t, c, "plain", "c-on")
		require.True(t, bk)
		// The destination's setting, not the source object's.
		out = copyTo("plain", "c-off", &s3.CopyObjectInput{ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(kmsKey)})
		require.False(t, aws.ToBool(out.BucketKeyEnabled))
		_, bk = bkState(t, c, "plain", "c-off")
		require.False(t, bk)
		out = copyTo("bkdef", "c-def", nil)
		require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
		require.True(t, aws.ToBool(out.BucketKeyEnabled), "a copy into a bucket with bucket keys uses one")
		_, bk = bkState(t, c, "bkdef", "c-def")
		require.True(t, bk)
		out = copyTo("bkdef", "c-def-off", &s3.CopyObjectInput{BucketKeyEnabled: aws.Bool(false)})
		require.False(t, aws.ToBool(out.BucketKeyEnabled))
	})

	t.Run("Multipart", func(t *testing.T) {
		upload := func(bucket, key string, in *s3.CreateMultipartUploadInput, want bool) {
			t.Helper()
			if in == nil {
				in = &s3.CreateMultipartUploadInput{}
			}
			in.Bucket, in.Key = aws.String(bucket), aws.String(key)
			mpu, err := c.CreateMultipartUpload(ctx, in)
			require.NoError(t, err)
			require.Equal(t, types.ServerSideEncryptionAwsKms, mpu.ServerSideEncryption)
			require.Equal(t, want, aws.ToBool(mpu.BucketKeyEnabled), "CreateMultipartUpload")
			part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mpu.UploadId,
				PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("one part"))})
			require.NoError(t, err)
			require.Equal(t, types.ServerSideEncryptionAwsKms, part.ServerSideEncryption)
			require.Equal(t, want, aws.ToBool(part.BucketKeyEnabled), "UploadPart")
			done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
				UploadId: mpu.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
			require.NoError(t, err)
			require.Equal(t, types.ServerSideEncryptionAwsKms, done.ServerSideEncryption)
			require.Equal(t, want, aws.ToBool(done.BucketKeyEnabled), "CompleteMultipartUpload")
			_, bk := bkState(t, c, bucket, key)
			require.Equal(t, want, bk)
		}
		upload("plain", "mp-on", &s3.CreateMultipartUploadInput{ServerSideEncryption: types.ServerSideEncryptionAwsKms,
			SSEKMSKeyId: aws.String(kmsKey), BucketKeyEnabled: aws.Bool(true)}, true)
		upload("plain", "mp-off", &s3.CreateMultipartUploadInput{ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(kmsKey)}, false)
		upload("bkdef", "mp-def", nil, true)
		upload("bkdef", "mp-def-off", &s3.CreateMultipartUploadInput{BucketKeyEnabled: aws.Bool(false)}, false)
	})
}
