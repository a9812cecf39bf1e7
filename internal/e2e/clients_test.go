package e2e

// Debian's aws-cli 2, rclone 1.60 and s3cmd 2.3 in their default settings
// (integrity checks on) against the example server over TLS: uploads and
// downloads in every SSE mode, sync, server-side copies, listing, deletes,
// tagging and conditional GETs. Every downloaded byte is compared. The
// clients are installed by scripts/install-clients.sh; a missing one fails.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"
)

// sseMode is the encryption a client asks for on upload.
type sseMode string

const (
	sseNone sseMode = "none" // no SSE request: the server's default
	sseS3   sseMode = "sse-s3"
	sseKMS  sseMode = "sse-kms"
	sseC    sseMode = "sse-c"
)

// clientFileSizes are the transfer sizes: one request, one request above
// aws-cli's 5 MiB minimum part size but below its 8 MiB multipart
// threshold, and a multipart upload for aws-cli (8 MiB parts) and s3cmd
// (15 MiB parts). rclone uploads up to 200 MiB in one request.
var clientFileSizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"6MiB", 6 << 20}, {"40MiB", 40 << 20}}

// clientTransfers says how a client uploads and downloads objects: one
// command per file (put, get) or, for aws-cli, one per directory (putDir,
// getDir), since every aws-cli start costs seconds of Python imports.
type clientTransfers struct {
	client string
	modes  []sseMode
	put    func(m sseMode, file, bucket, key string) []string
	// get downloads bucket/key to dir/path.Base(key).
	get func(m sseMode, bucket, key, dir string) []string
	// putDir uploads every file of dir under bucket/prefix; getDir
	// downloads them to dir.
	putDir func(m sseMode, dir, bucket, prefix string) []string
	getDir func(m sseMode, bucket, prefix, dir string) []string
}

// transferMatrix uploads every file size in every mode with the client,
// checks what the server stored, downloads it again with the client and
// compares the bytes.
func (h *clientHarness) transferMatrix(t *testing.T, tr clientTransfers) {
	src := filepath.Join(h.dir, "files-"+tr.client)
	sums := map[string]string{}
	for _, f := range clientFileSizes {
		sums[f.name] = randomFile(t, filepath.Join(src, f.name), f.n)
	}
	bucket := "e2e-" + tr.client + "-cp"
	h.createBucket(t, bucket)
	for _, m := range tr.modes {
		t.Run(string(m), func(t *testing.T) {
			if tr.putDir != nil {
				prefix := string(m) + "/"
				h.ok(t, tr.client, tr.putDir(m, src, bucket, prefix)...)
				for _, f := range clientFileSizes {
					h.requireStored(t, m, bucket, prefix+f.name, int64(f.n))
				}
				dir := t.TempDir()
				h.ok(t, tr.client, tr.getDir(m, bucket, prefix, dir)...)
				for _, f := range clientFileSizes {
					require.Equal(t, sums[f.name], fileSHA256(t, filepath.Join(dir, f.name)), "%s: downloaded bytes differ from the uploaded file", f.name)
				}
				return
			}
			for _, f := range clientFileSizes {
				t.Run(f.name, func(t *testing.T) {
					key := string(m) + "/" + f.name
					h.ok(t, tr.client, tr.put(m, filepath.Join(src, f.name), bucket, key)...)
					h.requireStored(t, m, bucket, key, int64(f.n))
					dir := t.TempDir()
					h.ok(t, tr.client, tr.get(m, bucket, key, dir)...)
					require.Equal(t, sums[f.name], fileSHA256(t, filepath.Join(dir, f.name)), "downloaded bytes differ from the uploaded file")
				})
			}
		})
	}
}

func (h *clientHarness) createBucket(t *testing.T, bucket string) {
	t.Helper()
	_, err := h.e.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
}

// requireStored checks, with the SDK, that bucket/key has the size and the
// encryption the client was asked for.
func (h *clientHarness) requireStored(t *testing.T, m sseMode, bucket, key string, size int64) {
	t.Helper()
	in := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if m == sseC {
		ssecHead(in, h.ssec)
	}
	out, err := h.e.client.HeadObject(context.Background(), in)
	require.NoError(t, err, "HEAD %s/%s", bucket, key)
	require.Equal(t, size, aws.ToInt64(out.ContentLength))
	switch m {
	case sseS3:
		require.Equal(t, types.ServerSideEncryptionAes256, out.ServerSideEncryption)
	case sseKMS:
		require.Equal(t, types.ServerSideEncryptionAwsKms, out.ServerSideEncryption)
		require.Contains(t, aws.ToString(out.SSEKMSKeyId), h.kmsKey)
	case sseC:
		require.Equal(t, "AES256", aws.ToString(out.SSECustomerAlgorithm))
	}
}

// putSDK stores data at bucket/key with the SDK (setup for flows whose
// subject is not the upload).
func (h *clientHarness) putSDK(t *testing.T, in *s3.PutObjectInput, data []byte) {
	t.Helper()
	in.Body = bytes.NewReader(data)
	_, err := h.e.client.PutObject(context.Background(), in)
	require.NoError(t, err, "PUT %s/%s", aws.ToString(in.Bucket), aws.ToString(in.Key))
}

// getSDK returns the SHA-256 of bucket/key read with the SDK.
func (h *clientHarness) getSDK(t *testing.T, in *s3.GetObjectInput) string {
	t.Helper()
	b, _ := getAll(t, h.e.client, in)
	return sha256Hex(b)
}

func decodeClientJSON(t *testing.T, r clientResult, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(r.stdout), v), "%s: stdout is not JSON: %s", r.cmdline, r.stdout)
}

// syncTree is the local tree the sync flows upload, then change (a.txt
// rewritten, b/d/e.bin removed, new.txt added) and sync again.
var syncTree = map[string]int{"a.txt": 10, "b/c.bin": 70_000, "b/d/e.bin": 1, "b/f.bin": 3 << 20}

func changeSyncTree(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	want["a.txt"] = randomFile(t, filepath.Join(dir, "a.txt"), 25)
	require.NoError(t, os.Remove(filepath.Join(dir, "b", "d", "e.bin")))
	delete(want, "b/d/e.bin")
	want["new.txt"] = randomFile(t, filepath.Join(dir, "new.txt"), 5)
}

func TestClientAWS(t *testing.T) {
	t.Parallel() // its own server and client homes; mostly waiting on a client
	h := newClientHarness(t)
	sse := func(m sseMode) []string {
		switch m {
		case sseS3:
			return []string{"--sse", "AES256"}
		case sseKMS:
			return []string{"--sse", "aws:kms", "--sse-kms-key-id", h.kmsKey}
		case sseC:
			return []string{"--sse-c", "AES256", "--sse-c-key", "fileb://" + h.ssecFile}
		}
		return nil
	}
	t.Run("cp", func(t *testing.T) {
		h.transferMatrix(t, clientTransfers{
			client: "aws", modes: []sseMode{sseNone, sseS3, sseKMS, sseC},
			putDir: func(m sseMode, dir, bucket, prefix string) []string {
				return append([]string{"s3", "cp", "--recursive", dir, "s3://" + bucket + "/" + prefix}, sse(m)...)
			},
			getDir: func(m sseMode, bucket, prefix, dir string) []string {
				args := []string{"s3", "cp", "--recursive", "s3://" + bucket + "/" + prefix, dir}
				if m == sseC {
					args = append(args, sse(m)...)
				}
				return args
			},
		})
	})

	h.createBucket(t, "e2e-aws")
	h.createBucket(t, "e2e-aws-copy")

	// sync up, change, sync up with --delete, list (ListObjectsV2), sync
	// down; then sync S3 to S3 (CopyObject) and down again.
	t.Run("sync-ls", func(t *testing.T) {
		local := filepath.Join(t.TempDir(), "up")
		want := writeTree(t, local, syncTree)
		h.ok(t, "aws", "s3", "sync", local, "s3://e2e-aws/sync/")
		changeSyncTree(t, local, want)
		h.ok(t, "aws", "s3", "sync", "--delete", local, "s3://e2e-aws/sync/")
		ls := h.ok(t, "aws", "s3", "ls", "--recursive", "s3://e2e-aws/sync/")
		h.requireRequest(t, ls, "GET", "list-type=2", 200)
		for p := range want {
			require.Contains(t, ls.stdout, "sync/"+p)
		}
		require.NotContains(t, ls.stdout, "e.bin")
		top := h.ok(t, "aws", "s3", "ls", "s3://e2e-aws/sync/")
		require.Contains(t, top.stdout, "PRE b/")
		down := t.TempDir()
		h.ok(t, "aws", "s3", "sync", "s3://e2e-aws/sync/", down)
		require.Equal(t, want, treeSHA256(t, down))

		h.ok(t, "aws", "s3", "sync", "s3://e2e-aws/sync/", "s3://e2e-aws-copy/sync/")
		down = t.TempDir()
		h.ok(t, "aws", "s3", "sync", "s3://e2e-aws-copy/sync/", down)
		require.Equal(t, want, treeSHA256(t, down))
	})

	// aws s3 cp between buckets of a 40 MiB object: HeadObject and
	// GetObjectTagging on the source, then a multipart upload whose parts
	// are UploadPartCopy (8 MiB each). Tags and metadata travel along.
	t.Run("s3-to-s3", func(t *testing.T) {
		data := randomPayload(40 << 20)
		t.Run("sse-s3-to-default", func(t *testing.T) {
			h.putSDK(t, &s3.PutObjectInput{Bucket: aws.String("e2e-aws"), Key: aws.String("copy/src"),
				ServerSideEncryption: types.ServerSideEncryptionAes256,
				Tagging:              aws.String("team=blue"), Metadata: map[string]string{"foo": "bar"}}, data)
			r := h.ok(t, "aws", "s3", "cp", "s3://e2e-aws/copy/src", "s3://e2e-aws-copy/copy/dst")
			h.requireRequest(t, r, "GET", "tagging", 200)
			h.requireRequest(t, r, "PUT", "uploadId=", 200)
			require.Equal(t, sha256Hex(data), h.getSDK(t, &s3.GetObjectInput{Bucket: aws.String("e2e-aws-copy"), Key: aws.String("copy/dst")}))
			ctx := context.Background()
			tags, err := h.e.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("e2e-aws-copy"), Key: aws.String("copy/dst")})
			require.NoError(t, err)
			require.Equal(t, []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}, tags.TagSet)
			head, err := h.e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("e2e-aws-copy"), Key: aws.String("copy/dst")})
			require.NoError(t, err)
			require.Equal(t, map[string]string{"foo": "bar"}, head.Metadata)
		})
		t.Run("sse-c-to-sse-kms", func(t *testing.T) {
			h.putSDK(t, ssecPut(&s3.PutObjectInput{Bucket: aws.String("e2e-aws"), Key: aws.String("copy/ssec")}, h.ssec), data)
			r := h.ok(t, "aws", "s3", "cp", "s3://e2e-aws/copy/ssec", "s3://e2e-aws-copy/copy/kms",
				"--sse-c-copy-source", "AES256", "--sse-c-copy-source-key", "fileb://"+h.ssecFile,
				"--sse", "aws:kms", "--sse-kms-key-id", h.kmsKey)
			h.requireRequest(t, r, "PUT", "uploadId=", 200)
			h.requireStored(t, sseKMS, "e2e-aws-copy", "copy/kms", int64(len(data)))
			require.Equal(t, sha256Hex(data), h.getSDK(t, &s3.GetObjectInput{Bucket: aws.String("e2e-aws-copy"), Key: aws.String("copy/kms")}))
		})
	})

	t.Run("delete-objects", func(t *testing.T) {
		for _, k := range []string{"del/a", "del/b"} {
			h.putSDK(t, &s3.PutObjectInput{Bucket: aws.String("e2e-aws"), Key: aws.String(k)}, []byte(k))
		}
		spec := filepath.Join(t.TempDir(), "delete.json")
		writeFile(t, spec, []byte(`{"Objects":[{"Key":"del/a"},{"Key":"del/b"},{"Key":"del/missing"}]}`))
		r := h.ok(t, "aws", "s3api", "delete-objects", "--bucket", "e2e-aws", "--delete", "file://"+spec)
		var out struct {
			Deleted []struct{ Key string }
			Errors  []struct{ Key, Code string }
		}
		decodeClientJSON(t, r, &out)
		var keys []string
		for _, d := range out.Deleted {
			keys = append(keys, d.Key)
		}
		require.ElementsMatch(t, []string{"del/a", "del/b", "del/missing"}, keys)
		require.Empty(t, out.Errors)
		r = h.ok(t, "aws", "s3api", "list-objects-v2", "--bucket", "e2e-aws", "--prefix", "del/")
		require.NotContains(t, r.stdout, `"Key"`)
	})

	t.Run("tagging", func(t *testing.T) {
		h.putSDK(t, &s3.PutObjectInput{Bucket: aws.String("e2e-aws"), Key: aws.String("tag/obj")}, []byte("tagged"))
		h.ok(t, "aws", "s3api", "put-object-tagging", "--bucket", "e2e-aws", "--key", "tag/obj",
			"--tagging", "TagSet=[{Key=team,Value=blue},{Key=env,Value=e2e}]")
		r := h.ok(t, "aws", "s3api", "get-object-tagging", "--bucket", "e2e-aws", "--key", "tag/obj")
		var out struct{ TagSet []struct{ Key, Value string } }
		decodeClientJSON(t, r, &out)
		require.ElementsMatch(t, []struct{ Key, Value string }{{"team", "blue"}, {"env", "e2e"}}, out.TagSet)
		h.ok(t, "aws", "s3api", "delete-object-tagging", "--bucket", "e2e-aws", "--key", "tag/obj")
		r = h.ok(t, "aws", "s3api", "get-object-tagging", "--bucket", "e2e-aws", "--key", "tag/obj")
		out.TagSet = nil
		decodeClientJSON(t, r, &out)
		require.Empty(t, out.TagSet)
	})

	t.Run("multipart-uploads", func(t *testing.T) {
		r := h.ok(t, "aws", "s3api", "create-multipart-upload", "--bucket", "e2e-aws", "--key", "mpu/pending")
		var up struct{ UploadId string }
		decodeClientJSON(t, r, &up)
		require.NotEmpty(t, up.UploadId)
		r = h.ok(t, "aws", "s3api", "list-multipart-uploads", "--bucket", "e2e-aws", "--prefix", "mpu/")
		var list struct {
			Uploads []struct{ Key, UploadId string }
		}
		decodeClientJSON(t, r, &list)
		require.Equal(t, []struct{ Key, UploadId string }{{"mpu/pending", up.UploadId}}, list.Uploads)
		h.ok(t, "aws", "s3api", "abort-multipart-upload", "--bucket", "e2e-aws", "--key", "mpu/pending", "--upload-id", up.UploadId)
		r = h.ok(t, "aws", "s3api", "list-multipart-uploads", "--bucket", "e2e-aws", "--prefix", "mpu/")
		require.NotContains(t, r.stdout, up.UploadId)
	})

	// If-None-Match with the current ETag: 304; If-Match with another: 412;
	// the opposite conditions return the object.
	t.Run("conditional-get", func(t *testing.T) {
		data := randomPayload(1000)
		h.putSDK(t, &s3.PutObjectInput{Bucket: aws.String("e2e-aws"), Key: aws.String("cond/obj")}, data)
		r := h.ok(t, "aws", "s3api", "head-object", "--bucket", "e2e-aws", "--key", "cond/obj")
		var head struct{ ETag string }
		decodeClientJSON(t, r, &head)
		require.Equal(t, `"`+md5Hex(data)+`"`, head.ETag, "SSE-S3 ETag: the plaintext MD5")
		out := filepath.Join(t.TempDir(), "obj")
		get := func(cond ...string) []string {
			return append([]string{"s3api", "get-object", "--bucket", "e2e-aws", "--key", "cond/obj"}, append(cond, out)...)
		}
		other := `"0123456789abcdef0123456789abcdef"`

		r = h.fails(t, "aws", get("--if-none-match", head.ETag)...)
		h.requireRequest(t, r, "GET", "cond/obj", 304)
		require.Contains(t, r.stderr, "(304)")
		r = h.fails(t, "aws", get("--if-match", other)...)
		h.requireRequest(t, r, "GET", "cond/obj", 412)
		require.Contains(t, r.stderr, "PreconditionFailed")

		h.ok(t, "aws", get("--if-match", head.ETag)...)
		require.Equal(t, sha256Hex(data), fileSHA256(t, out))
		require.NoError(t, os.Remove(out))
		h.ok(t, "aws", get("--if-none-match", other)...)
		require.Equal(t, sha256Hex(data), fileSHA256(t, out))
	})
}

func TestClientRclone(t *testing.T) {
	t.Parallel()
	h := newClientHarness(t)
	sse := func(m sseMode) []string {
		switch m {
		case sseS3:
			return []string{"--s3-server-side-encryption", "AES256"}
		case sseKMS:
			return []string{"--s3-server-side-encryption", "aws:kms", "--s3-sse-kms-key-id", h.kmsKey}
		}
		return nil
	}
	// SSE-C goes through the remote s3ssec, whose config holds the key
	// (sse_customer_algorithm, sse_customer_key), so that it is on no
	// command line.
	remote := func(m sseMode) string {
		if m == sseC {
			return "s3ssec:"
		}
		return "s3:"
	}
	t.Run("copy", func(t *testing.T) {
		h.transferMatrix(t, clientTransfers{
			client: "rclone", modes: []sseMode{sseNone, sseS3, sseKMS, sseC},
			put: func(m sseMode, file, bucket, key string) []string {
				return append([]string{"copy", file, remote(m) + bucket + "/" + filepath.Dir(key)}, sse(m)...)
			},
			get: func(m sseMode, bucket, key, dir string) []string {
				return []string{"copy", remote(m) + bucket + "/" + key, dir}
			},
		})
	})

	h.createBucket(t, "e2e-rclone")
	// hashChecked fails t if rclone compared no hashes (it then reports
	// success on sizes alone).
	hashChecked := func(t *testing.T, r clientResult) {
		t.Helper()
		if strings.Contains(r.stderr, "could not be checked") || strings.Contains(r.stderr, "No common hash") {
			h.report(t, r, "rclone compared no hashes")
			t.FailNow()
		}
	}

	// sync up, change, sync again, check (sizes and MD5), list, sync down.
	// Provider Other lists with ListObjects V1.
	t.Run("sync-check", func(t *testing.T) {
		local := filepath.Join(t.TempDir(), "up")
		want := writeTree(t, local, syncTree)
		h.ok(t, "rclone", "sync", local, "s3:e2e-rclone/sync")
		changeSyncTree(t, local, want)
		h.ok(t, "rclone", "sync", local, "s3:e2e-rclone/sync")
		r := h.ok(t, "rclone", "check", local, "s3:e2e-rclone/sync")
		hashChecked(t, r)
		h.requireRequest(t, r, "GET", "/e2e-rclone?delimiter=", 200)
		ls := h.ok(t, "rclone", "lsf", "-R", "--files-only", "s3:e2e-rclone/sync")
		got := strings.Split(strings.TrimSpace(ls.stdout), "\n")
		var wantNames []string
		for p := range want {
			wantNames = append(wantNames, p)
		}
		require.ElementsMatch(t, wantNames, got)
		down := t.TempDir()
		h.ok(t, "rclone", "sync", "s3:e2e-rclone/sync", down)
		require.Equal(t, want, treeSHA256(t, down))
	})

	// Provider Minio lists with ListObjectsV2 (encoding-type=url).
	t.Run("provider-minio", func(t *testing.T) {
		local := filepath.Join(t.TempDir(), "up")
		want := writeTree(t, local, syncTree)
		h.ok(t, "rclone", "copy", local, "minio:e2e-rclone/minio")
		r := h.ok(t, "rclone", "check", local, "minio:e2e-rclone/minio")
		hashChecked(t, r)
		h.requireRequest(t, r, "GET", "list-type=2", 200)
		down := t.TempDir()
		h.ok(t, "rclone", "copy", "minio:e2e-rclone/minio", down)
		require.Equal(t, want, treeSHA256(t, down))
	})

	// rclone cleanup lists the bucket's pending multipart uploads
	// (ListMultipartUploads) and aborts those older than a day: a fresh one
	// stays.
	t.Run("cleanup", func(t *testing.T) {
		up, err := h.e.client.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String("e2e-rclone"), Key: aws.String("pending")})
		require.NoError(t, err)
		r := h.ok(t, "rclone", "cleanup", "s3:e2e-rclone")
		h.requireRequest(t, r, "GET", "uploads", 200)
		l, err := h.e.client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String("e2e-rclone")})
		require.NoError(t, err)
		require.Len(t, l.Uploads, 1)
		require.Equal(t, aws.ToString(up.UploadId), aws.ToString(l.Uploads[0].UploadId))
	})
}

func TestClientS3cmd(t *testing.T) {
	t.Parallel()
	h := newClientHarness(t)
	// s3cmd has no SSE-C options (it cannot send a customer key), so it
	// covers none, SSE-S3 and SSE-KMS.
	t.Run("put-get", func(t *testing.T) {
		h.transferMatrix(t, clientTransfers{
			client: "s3cmd", modes: []sseMode{sseNone, sseS3, sseKMS},
			put: func(m sseMode, file, bucket, key string) []string {
				args := []string{"put", file, "s3://" + bucket + "/" + key}
				switch m {
				case sseS3:
					args = append(args, "--server-side-encryption")
				case sseKMS:
					args = append(args, "--server-side-encryption-kms-id="+h.kmsKey)
				}
				return args
			},
			get: func(m sseMode, bucket, key, dir string) []string {
				return []string{"get", "s3://" + bucket + "/" + key, filepath.Join(dir, filepath.Base(key))}
			},
		})
	})

	h.createBucket(t, "e2e-s3cmd")
	// sync up, change, sync with --delete-removed, list (ListObjects V1),
	// du, sync down, delete one object, then the rest (DeleteObjects).
	t.Run("sync-ls-del", func(t *testing.T) {
		local := filepath.Join(t.TempDir(), "up")
		want := writeTree(t, local, syncTree)
		h.ok(t, "s3cmd", "sync", local+"/", "s3://e2e-s3cmd/sync/")
		changeSyncTree(t, local, want)
		h.ok(t, "s3cmd", "sync", "--delete-removed", local+"/", "s3://e2e-s3cmd/sync/")
		ls := h.ok(t, "s3cmd", "ls", "--recursive", "s3://e2e-s3cmd/sync/")
		for p := range want {
			require.Contains(t, ls.stdout, "s3://e2e-s3cmd/sync/"+p)
		}
		require.NotContains(t, ls.stdout, "e.bin")
		top := h.ok(t, "s3cmd", "ls", "s3://e2e-s3cmd/sync/")
		require.Contains(t, top.stdout, "DIR  s3://e2e-s3cmd/sync/b/")
		buckets := h.ok(t, "s3cmd", "ls")
		require.Contains(t, buckets.stdout, "s3://e2e-s3cmd")
		du := h.ok(t, "s3cmd", "du", "s3://e2e-s3cmd/sync/")
		var total int64
		for p := range want {
			fi, err := os.Stat(filepath.Join(local, filepath.FromSlash(p)))
			require.NoError(t, err)
			total += fi.Size()
		}
		require.Contains(t, du.stdout, fmt.Sprintf("%d", total), "s3cmd du")
		down := t.TempDir()
		h.ok(t, "s3cmd", "sync", "s3://e2e-s3cmd/sync/", down+"/")
		require.Equal(t, want, treeSHA256(t, down))

		h.ok(t, "s3cmd", "del", "s3://e2e-s3cmd/sync/a.txt")
		ls = h.ok(t, "s3cmd", "ls", "--recursive", "s3://e2e-s3cmd/sync/")
		require.NotContains(t, ls.stdout, "a.txt")
		require.Contains(t, ls.stdout, "new.txt")
		h.ok(t, "s3cmd", "del", "--recursive", "--force", "s3://e2e-s3cmd/sync/")
		ls = h.ok(t, "s3cmd", "ls", "--recursive", "s3://e2e-s3cmd/sync/")
		require.Empty(t, strings.TrimSpace(ls.stdout))
	})
}
