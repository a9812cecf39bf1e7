package s3srv

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (s *Server) createBucket(w http.ResponseWriter, r *http.Request, bucket string) error {
	// The body, if any, is a CreateBucketConfiguration (location
	// constraint); the server has one location, so it is read and ignored.
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10)); err != nil {
		return errIncompleteBody()
	}
	if err := s.store.createBucket(bucket, s.now()); err != nil {
		return err
	}
	w.Header().Set("Location", "/"+bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(w http.ResponseWriter, _ *http.Request, bucket string) error {
	if err := s.store.deleteBucket(bucket); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) headBucket(w http.ResponseWriter, _ *http.Request, bucket string) error {
	if _, err := s.store.bucketInfo(bucket); err != nil {
		return err
	}
	w.Header().Set("X-Amz-Bucket-Region", s.cfg.Region)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBucketLocation(w http.ResponseWriter, _ *http.Request, bucket string) error {
	if _, err := s.store.bucketInfo(bucket); err != nil {
		return err
	}
	type locationConstraint struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		Xmlns   string   `xml:"xmlns,attr"`
		Value   string   `xml:",chardata"`
	}
	loc := s.cfg.Region
	if loc == "us-east-1" {
		loc = ""
	}
	return s.writeXML(w, locationConstraint{Xmlns: s3NS, Value: loc})
}

func (s *Server) listBuckets(w http.ResponseWriter, _ *http.Request) error {
	bs, err := s.store.listBuckets()
	if err != nil {
		return errInternal(err)
	}
	res := listAllMyBucketsResult{Xmlns: s3NS, Owner: owner{ID: "s3server", DisplayName: "s3server"}}
	for _, b := range bs {
		res.Buckets = append(res.Buckets, bucketInfo{Name: b.Name, CreationDate: xmlTime(b.Created)})
	}
	return s.writeXML(w, res)
}

// Continuation tokens are opaque to clients: base64 of "k:" + the last key
// returned, or "p:" + the last common prefix returned.
func encodeToken(kind byte, v string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(string(kind) + ":" + v))
}

func decodeToken(t string) (kind byte, v string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(b) < 2 || b[1] != ':' || (b[0] != 'k' && b[0] != 'p') {
		return 0, "", false
	}
	return b[0], string(b[2:]), true
}

func (s *Server) listObjectsV2(w http.ResponseWriter, r *http.Request, bucket string) error {
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("max-keys must be a non-negative integer.")
		}
		maxKeys = min(n, 1000)
	}
	encodingType := q.Get("encoding-type")
	if encodingType != "" && encodingType != "url" {
		return errInvalidArgument("Invalid Encoding Method specified in Request")
	}
	after, afterIsPrefix := q.Get("start-after"), false
	token := q.Get("continuation-token")
	if _, present := q["continuation-token"]; present {
		kind, v, ok := decodeToken(token)
		if !ok {
			return errInvalidArgument("The continuation token provided is incorrect")
		}
		after, afterIsPrefix = v, kind == 'p'
	}
	page, err := s.store.listObjects(bucket, listQuery{
		prefix: prefix, delimiter: delim, after: after, afterIsPrefix: afterIsPrefix, maxKeys: maxKeys,
	})
	if err != nil {
		return err
	}
	enc := func(v string) string {
		if encodingType == "url" {
			return strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
		}
		return v
	}
	res := listBucketResultV2{
		Xmlns: s3NS, Name: bucket, Prefix: enc(prefix), Delimiter: enc(delim), MaxKeys: maxKeys,
		StartAfter: enc(q.Get("start-after")), ContinuationToken: token, EncodingType: encodingType,
		IsTruncated: page.truncated,
	}
	for _, e := range page.entries {
		if e.isPrefix {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: enc(e.value)})
		} else {
			o := e.meta
			etag, err := s.objectETag(r.Context(), bucket, o.Key, o)
			if err != nil {
				return err
			}
			res.Contents = append(res.Contents, objectInfo{
				Key: enc(o.Key), LastModified: xmlTime(o.LastModified), ETag: quoteETag(etag),
				Size: o.Size, StorageClass: "STANDARD",
			})
		}
		res.KeyCount++
	}
	if page.truncated && page.last.value != "" {
		kind := byte('k')
		if page.last.isPrefix {
			kind = 'p'
		}
		res.NextContinuationToken = encodeToken(kind, page.last.value)
	}
	return s.writeXML(w, res)
}

func quoteETag(e string) string { return `"` + e + `"` }
