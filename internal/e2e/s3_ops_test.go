package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

// TestS3Ops drives the operations real clients use beyond the basics
// through aws-sdk-go-v2: ListObjects V1 paging, ListObjectVersions and
// GetBucketVersioning, DeleteObjects, tagging, conditional GETs and
// partNumber.
func TestS3Ops(t *testing.T) {
	e := startS3(t, s3EnvOpts{})
	ctx := context.Background()
	c := e.client
	const bucket = "ops"
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	keys := []string{"a/1", "a/2", "a/b/3", "a0", "b", "c/d", "d e+f", "z"}
	for _, k := range keys {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(k)})
		require.NoError(t, err)
	}

	t.Run("ListObjectsV1", func(t *testing.T) {
		for _, delim := range []string{"", "/"} {
			var got []string
			var marker *string
			for page := 0; ; page++ {
				require.Less(t, page, 20)
				in := &s3.ListObjectsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(2), Marker: marker}
				if delim != "" {
					in.Delimiter = aws.String(delim)
				}
				out, err := c.ListObjects(ctx, in)
				require.NoError(t, err)
				last := ""
				for _, o := range out.Contents {
					got = append(got, aws.ToString(o.Key))
					last = aws.ToString(o.Key)
					require.Equal(t, int64(len(*o.Key)), aws.ToInt64(o.Size))
				}
				for _, p := range out.CommonPrefixes {
					got = append(got, aws.ToString(p.Prefix))
					last = max(last, aws.ToString(p.Prefix))
				}
				if !aws.ToBool(out.IsTruncated) {
					break
				}
				if delim == "" {
					require.Nil(t, out.NextMarker, "NextMarker only with a delimiter, as S3")
					marker = aws.String(last)
				} else {
					require.Equal(t, last, aws.ToString(out.NextMarker))
					marker = out.NextMarker
				}
			}
			slices.Sort(got)
			want := slices.Clone(keys)
			if delim != "" {
				want = []string{"a/", "a0", "b", "c/", "d e+f", "z"}
			}
			require.Equal(t, want, got, "delimiter %q", delim)
		}
		// The SDK asks for encoding-type=url and decodes.
		out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(bucket), Prefix: aws.String("d "), EncodingType: types.EncodingTypeUrl})
		require.NoError(t, err)
		require.Len(t, out.Contents, 1)
	})

	t.Run("ListObjectVersions", func(t *testing.T) {
		var got []string
		p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(3)})
		pages := 0
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			require.NoError(t, err)
			pages++
			for _, v := range out.Versions {
				require.Equal(t, "null", aws.ToString(v.VersionId))
				require.True(t, aws.ToBool(v.IsLatest))
				got = append(got, aws.ToString(v.Key))
			}
			require.Empty(t, out.DeleteMarkers)
		}
		require.Equal(t, keys, got)
		require.Equal(t, 3, pages)
		v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
		require.NoError(t, err)
		require.Empty(t, v.Status, "versioning is off")

		// Suspended is accepted and kept; Enabled is not implemented.
		_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
		require.NoError(t, err)
		v, err = c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
		require.NoError(t, err)
		require.Equal(t, types.BucketVersioningStatusSuspended, v.Status)
		_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
		require.Equal(t, "NotImplemented", apiErrorCode(err))
	})

	t.Run("Tagging", func(t *testing.T) {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("tagged"), Body: strings.NewReader("x"),
			Tagging: aws.String("team=kms&env=test"), Metadata: map[string]string{"Foo-Bar": "baz"}})
		require.NoError(t, err)
		tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("tagged")})
		require.NoError(t, err)
		require.Equal(t, []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}, {Key: aws.String("team"), Value: aws.String("kms")}}, tags.TagSet)
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("tagged")})
		require.NoError(t, err)
		_ = g.Body.Close()
		require.Equal(t, int32(2), aws.ToInt32(g.TagCount))
		require.Equal(t, map[string]string{"foo-bar": "baz"}, g.Metadata)

		_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("tagged"),
			Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("only"), Value: aws.String("one")}}}})
		require.NoError(t, err)
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("tagged-copy"), CopySource: aws.String(bucket + "/tagged")})
		require.NoError(t, err)
		tags, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("tagged-copy")})
		require.NoError(t, err)
		require.Equal(t, []types.Tag{{Key: aws.String("only"), Value: aws.String("one")}}, tags.TagSet)
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("tagged-copy"), CopySource: aws.String(bucket + "/tagged"),
			TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("new=1")})
		require.NoError(t, err)
		tags, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("tagged-copy")})
		require.NoError(t, err)
		require.Equal(t, []types.Tag{{Key: aws.String("new"), Value: aws.String("1")}}, tags.TagSet)
		_, err = c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("tagged-copy")})
		require.NoError(t, err)
		tags, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("tagged-copy")})
		require.NoError(t, err)
		require.Empty(t, tags.TagSet)

		many := make([]types.Tag, 11)
		for i := range many {
			many[i] = types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")}
		}
		_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("tagged"), Tagging: &types.Tagging{TagSet: many}})
		require.Equal(t, "InvalidTag", apiErrorCode(err))
	})

	t.Run("ConditionalGet", func(t *testing.T) {
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("b")})
		require.NoError(t, err)
		etag, lm := aws.ToString(h.ETag), aws.ToTime(h.LastModified)
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("b"), IfMatch: aws.String(etag)})
		require.NoError(t, err)
		_ = g.Body.Close()
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("b"), IfMatch: aws.String(`"nope"`)})
		require.Equal(t, http.StatusPreconditionFailed, apiStatus(err))
		require.Equal(t, "PreconditionFailed", apiErrorCode(err))
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("b"), IfNoneMatch: aws.String(etag)})
		require.Equal(t, http.StatusNotModified, apiStatus(err))
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("b"), IfModifiedSince: aws.Time(lm.Add(time.Minute))})
		require.Equal(t, http.StatusNotModified, apiStatus(err))
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("b"), IfUnmodifiedSince: aws.Time(lm.Add(-time.Minute))})
		require.Equal(t, http.StatusPreconditionFailed, apiStatus(err))
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("b2"), CopySource: aws.String(bucket + "/b"), CopySourceIfNoneMatch: aws.String(etag)})
		require.Equal(t, http.StatusPreconditionFailed, apiStatus(err))
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("b2"), CopySource: aws.String(bucket + "/b"), CopySourceIfMatch: aws.String(etag)})
		require.NoError(t, err)
	})

	t.Run("PartNumber", func(t *testing.T) {
		p1, p2 := randomPayload(5<<20), randomPayload(12345)
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp")})
		require.NoError(t, err)
		var done []types.CompletedPart
		for i, p := range [][]byte{p1, p2} {
			r, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: up.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
			require.NoError(t, err)
			done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: r.ETag})
		}
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
		require.NoError(t, err)
		for i, p := range [][]byte{p1, p2} {
			g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp"), PartNumber: aws.Int32(int32(i + 1))})
			require.NoError(t, err)
			got, err := io.ReadAll(g.Body)
			_ = g.Body.Close()
			require.NoError(t, err)
			require.True(t, bytes.Equal(p, got), "part %d", i+1)
			require.Equal(t, int32(2), aws.ToInt32(g.PartsCount))
			h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp"), PartNumber: aws.Int32(int32(i + 1))})
			require.NoError(t, err)
			require.Equal(t, int64(len(p)), aws.ToInt64(h.ContentLength))
			require.Equal(t, int32(2), aws.ToInt32(h.PartsCount))
		}
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp")})
		require.NoError(t, err)
		require.Nil(t, h.PartsCount, "PartsCount only when asked for")
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp"), PartNumber: aws.Int32(3)})
		require.Equal(t, "InvalidPartNumber", apiErrorCode(err))
		require.Equal(t, http.StatusRequestedRangeNotSatisfiable, apiStatus(err))
	})

	t.Run("ListMultipartUploads", func(t *testing.T) {
		var ids []string
		for _, k := range []string{"up/x", "up/y", "up/y"} {
			up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(k)})
			require.NoError(t, err)
			ids = append(ids, aws.ToString(up.UploadId))
		}
		var got []string
		in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String("up/"), MaxUploads: aws.Int32(2)}
		for page := 0; ; page++ {
			require.Less(t, page, 5)
			out, err := c.ListMultipartUploads(ctx, in)
			require.NoError(t, err)
			for _, u := range out.Uploads {
				got = append(got, aws.ToString(u.UploadId))
				require.NotNil(t, u.Initiated)
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
		}
		require.Equal(t, ids, got, "by key, then initiation, across pages")
		for i, k := range []string{"up/x", "up/y", "up/y"} {
			_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(k), UploadId: aws.String(ids[i])})
			require.NoError(t, err)
		}
		out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String("up/")})
		require.NoError(t, err)
		require.Empty(t, out.Uploads)
	})

	t.Run("DeleteObjects", func(t *testing.T) {
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
			{Key: aws.String("a/1")}, {Key: aws.String("a/2"), VersionId: aws.String("null")}, {Key: aws.String("b"), VersionId: aws.String("other")},
		}}})
		require.NoError(t, err)
		require.Len(t, out.Deleted, 2)
		require.Len(t, out.Errors, 1)
		require.Equal(t, "NoSuchVersion", aws.ToString(out.Errors[0].Code))
		out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Quiet: aws.Bool(true),
			Objects: []types.ObjectIdentifier{{Key: aws.String("b")}, {Key: aws.String("never-there")}}}})
		require.NoError(t, err)
		require.Empty(t, out.Deleted)
		require.Empty(t, out.Errors)
		l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("a/")})
		require.NoError(t, err)
		require.Len(t, l.Contents, 1) // a/b/3
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("b")})
		require.Equal(t, http.StatusNotFound, apiStatus(err))
	})

	t.Run("DeleteBucketWithPendingUpload", func(t *testing.T) {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pending")})
		require.NoError(t, err)
		_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("pending"), Key: aws.String("k")})
		require.NoError(t, err)
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("pending")})
		require.NoError(t, err)
	})
}

// TestS3ServerBinaryTLS runs the command with -tls-cert/-tls-key: it serves
// HTTPS, and SSE-C works without -allow-insecure-ssec.
func TestS3ServerBinaryTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeSelfSignedCert(t, dir)
	bin := buildS3Server(t)
	out, err := exec.Command(bin, "-addr", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-tls-cert", certFile).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "-tls-cert and -tls-key go together")
	out, err = exec.Command(bin, "-addr", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-tls-cert", keyFile, "-tls-key", keyFile).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "-tls-cert/-tls-key")
	url, logs, _ := runS3Server(t, bin, "-addr", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-tls-cert", certFile, "-tls-key", keyFile,
		"-access-key", "AKTLSTEST", "-secret-key", "tls-test-secret")
	url = strings.Replace(url, "http://", "https://", 1)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	c := newS3Client(url, hc, "AKTLSTEST", "tls-test-secret", aws.RequestChecksumCalculationWhenRequired)
	ctx := context.Background()
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tls")})
	require.NoError(t, err, logs())
	k := newSSECKey()
	data := randomPayload(100_000)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tls"), Key: aws.String("c"), Body: bytes.NewReader(data),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.b64), SSECustomerKeyMD5: aws.String(k.md5b64)})
	require.NoError(t, err)
	g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tls"), Key: aws.String("c"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k.b64), SSECustomerKeyMD5: aws.String(k.md5b64)})
	require.NoError(t, err)
	got, err := io.ReadAll(g.Body)
	_ = g.Body.Close()
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
	require.Contains(t, logs(), "scheme=https")
	// Plain HTTP to the TLS port is refused by the TLS layer.
	resp, err := http.Get(strings.Replace(url, "https://", "http://", 1) + "/tls")
	if err == nil {
		_ = resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	}
}

// writeSelfSignedCert writes a P-256 certificate for 127.0.0.1 and its key
// as PEM files under dir, and returns them with a pool that trusts it.
func writeSelfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
