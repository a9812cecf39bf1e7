package s3srv

// ListObjects (V1) and ListObjectVersions. The server keeps one version per
// key, as an unversioned S3 bucket does: its version id is "null".

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// nullVersion is the version id of every object of an unversioned bucket.
const nullVersion = "null"

// listParams are the query parameters ListObjects V1, ListObjectVersions
// and ListMultipartUploads share (the last names its maximum max-uploads).
type listParams struct {
	prefix, delimiter, encodingType string
	maxKeys                         int
}

func parseListParams(q url.Values, maxName string) (listParams, *Error) {
	p := listParams{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), encodingType: q.Get("encoding-type"), maxKeys: 1000}
	if v := q.Get(maxName); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, errInvalidArgument(maxName + " must be a non-negative integer.")
		}
		p.maxKeys = min(n, 1000)
	}
	if p.encodingType != "" && p.encodingType != "url" {
		return p, errInvalidArgument("Invalid Encoding Method specified in Request")
	}
	return p, nil
}

// enc encodes a key or prefix for the response (encoding-type=url).
func (p listParams) enc(v string) string {
	if p.encodingType == "url" {
		return strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
	}
	return v
}

// queryAfter is the listQuery that lists what follows marker: the keys after
// it, and, when the marker lies under a common prefix, nothing under that
// prefix (the prefix sorts before the marker: a previous page returned it).
// Every key after the prefix that is not under it sorts after the marker.
func (p listParams) queryAfter(marker string) listQuery {
	q := listQuery{prefix: p.prefix, delimiter: p.delimiter, after: marker, maxKeys: p.maxKeys}
	if marker != "" && p.delimiter != "" && strings.HasPrefix(marker, p.prefix) {
		if i := strings.Index(marker[len(p.prefix):], p.delimiter); i >= 0 {
			q.after, q.afterIsPrefix = marker[:len(p.prefix)+i+len(p.delimiter)], true
		}
	}
	return q
}

type listBucketResultV1 struct {
	XMLName        xml.Name       `xml:"ListBucketResult"`
	Xmlns          string         `xml:"xmlns,attr"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	MaxKeys        int            `xml:"MaxKeys"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	Contents       []objectInfoV1 `xml:"Contents"`
	CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
}

type objectInfoV1 struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	Owner        owner  `xml:"Owner"`
	StorageClass string `xml:"StorageClass"`
}

// listObjectsV1 serves ListObjects: marker, prefix, delimiter, max-keys and
// encoding-type. As S3, NextMarker is returned only with a delimiter
// (without one, a client continues from the last key).
func (s *Server) listObjectsV1(w http.ResponseWriter, r *http.Request, bucket string) error {
	q := r.URL.Query()
	p, perr := parseListParams(q, "max-keys")
	if perr != nil {
		return perr
	}
	marker := q.Get("marker")
	page, err := s.store.listObjects(bucket, p.queryAfter(marker))
	if err != nil {
		return err
	}
	res := listBucketResultV1{
		Xmlns: s3NS, Name: bucket, Prefix: p.enc(p.prefix), Marker: p.enc(marker), MaxKeys: p.maxKeys,
		Delimiter: p.enc(p.delimiter), IsTruncated: page.truncated, EncodingType: p.encodingType,
	}
	for _, e := range page.entries {
		if e.isPrefix {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: p.enc(e.value)})
			continue
		}
		etag, err := s.listETag(r.Context(), bucket, e.meta)
		if err != nil {
			return err
		}
		res.Contents = append(res.Contents, objectInfoV1{
			Key: p.enc(e.meta.Key), LastModified: xmlTime(e.meta.LastModified), ETag: etag,
			Size: e.meta.Size, Owner: serverOwner(), StorageClass: "STANDARD",
		})
	}
	if page.truncated && p.delimiter != "" {
		res.NextMarker = p.enc(page.last.value)
	}
	return s.writeXML(w, res)
}

func (s *Server) listETag(ctx context.Context, bucket string, om objectMeta) (string, error) {
	etag, err := s.objectETag(ctx, bucket, om.Key, om)
	if err != nil {
		return "", err
	}
	return quoteETag(etag), nil
}

type listVersionsResult struct {
	XMLName             xml.Name       `xml:"ListVersionsResult"`
	Xmlns               string         `xml:"xmlns,attr"`
	Name                string         `xml:"Name"`
	Prefix              string         `xml:"Prefix"`
	KeyMarker           string         `xml:"KeyMarker"`
	VersionIDMarker     string         `xml:"VersionIdMarker"`
	NextKeyMarker       string         `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string         `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int            `xml:"MaxKeys"`
	Delimiter           string         `xml:"Delimiter,omitempty"`
	IsTruncated         bool           `xml:"IsTruncated"`
	EncodingType        string         `xml:"EncodingType,omitempty"`
	Versions            []versionInfo  `xml:"Version"`
	CommonPrefixes      []commonPrefix `xml:"CommonPrefixes"`
}

type versionInfo struct {
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	Owner        owner  `xml:"Owner"`
	StorageClass string `xml:"StorageClass"`
}

// listObjectVersions serves ListObjectVersions for this unversioned store:
// every object is its only version, "null" and latest. key-marker and
// version-id-marker page as S3 does (the one version of the marker key
// precedes any version-id-marker, so the listing resumes after that key).
func (s *Server) listObjectVersions(w http.ResponseWriter, r *http.Request, bucket string) error {
	q := r.URL.Query()
	p, perr := parseListParams(q, "max-keys")
	if perr != nil {
		return perr
	}
	keyMarker, vidMarker := q.Get("key-marker"), q.Get("version-id-marker")
	switch {
	case vidMarker != "" && keyMarker == "":
		return errInvalidArgument("A version-id marker cannot be specified without a key marker.")
	case vidMarker != "" && vidMarker != nullVersion:
		return errInvalidArgument("Invalid version id specified")
	}
	page, err := s.store.listObjects(bucket, p.queryAfter(keyMarker))
	if err != nil {
		return err
	}
	res := listVersionsResult{
		Xmlns: s3NS, Name: bucket, Prefix: p.enc(p.prefix), KeyMarker: p.enc(keyMarker), VersionIDMarker: vidMarker,
		MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter), IsTruncated: page.truncated, EncodingType: p.encodingType,
	}
	for _, e := range page.entries {
		if e.isPrefix {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: p.enc(e.value)})
			continue
		}
		etag, err := s.listETag(r.Context(), bucket, e.meta)
		if err != nil {
			return err
		}
		res.Versions = append(res.Versions, versionInfo{
			Key: p.enc(e.meta.Key), VersionID: nullVersion, IsLatest: true, LastModified: xmlTime(e.meta.LastModified),
			ETag: etag, Size: e.meta.Size, Owner: serverOwner(), StorageClass: "STANDARD",
		})
	}
	if page.truncated {
		res.NextKeyMarker = p.enc(page.last.value)
		if !page.last.isPrefix {
			res.NextVersionIDMarker = nullVersion
		}
	}
	return s.writeXML(w, res)
}
