package s3srv

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

type listV1Result struct {
	Marker, NextMarker, Prefix, Delimiter, EncodingType string
	MaxKeys                                             int
	IsTruncated                                         bool
	Contents                                            []struct {
		Key, ETag, StorageClass string
		Size                    int64
		Owner                   struct{ ID string }
	}
	CommonPrefixes []struct{ Prefix string }
}

type versionsResult struct {
	KeyMarker, VersionIdMarker, NextKeyMarker, NextVersionIdMarker string
	IsTruncated                                                    bool
	Version                                                        []struct {
		Key, VersionId, ETag string
		IsLatest             bool
		Size                 int64
	}
	CommonPrefixes []struct{ Prefix string }
}

// expectedListing is the whole listing of keys under prefix with delimiter,
// computed the obvious way.
func expectedListing(keys []string, prefix, delim string) []string {
	var out []string
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		v := k
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				v = "P:" + k[:len(prefix)+i+len(delim)]
			}
		}
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

func opsKeys() []string {
	keys := []string{"a/1", "a/2", "a/b/3", "a0", "b", "c/d/e", "c/f", "d e+f", "z"}
	slices.Sort(keys)
	return keys
}

func (e *testEnv) putKeys(bucket string, keys []string) {
	e.t.Helper()
	e.mustStatus(http.StatusOK, http.MethodPut, "/"+bucket, nil, nil)
	for _, k := range keys {
		e.mustStatus(http.StatusOK, http.MethodPut, "/"+bucket+"/"+url.PathEscape(k), []byte(k), nil)
	}
}

func TestListObjectsV1Paging(t *testing.T) {
	e := newTestEnv(t, Config{})
	keys := opsKeys()
	e.putKeys("bkt", keys)
	for _, prefix := range []string{"", "a/", "c"} {
		for _, delim := range []string{"", "/"} {
			want := expectedListing(keys, prefix, delim)
			for _, maxKeys := range []int{1, 2, 3, 1000} {
				var got []string
				marker := ""
				for page := 0; ; page++ {
					if page > len(keys)+1 {
						t.Fatalf("prefix %q delim %q max %d: no end", prefix, delim, maxKeys)
					}
					q := url.Values{"prefix": {prefix}, "delimiter": {delim}, "max-keys": {strconv.Itoa(maxKeys)}, "marker": {marker}}
					_, b := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt?"+q.Encode(), nil, nil)
					var res listV1Result
					if err := xml.Unmarshal(b, &res); err != nil {
						t.Fatal(err)
					}
					if res.Marker != marker || res.MaxKeys != maxKeys || res.Prefix != prefix {
						t.Fatalf("echo: %+v", res)
					}
					last := ""
					for _, c := range res.Contents {
						got = append(got, c.Key)
						last = c.Key
						if c.StorageClass != "STANDARD" || c.Owner.ID == "" || c.Size != int64(len(c.Key)) || !strings.HasPrefix(c.ETag, `"`) {
							t.Fatalf("entry %+v", c)
						}
					}
					for _, p := range res.CommonPrefixes {
						got = append(got, "P:"+p.Prefix)
						last = max(last, p.Prefix)
					}
					slices.SortFunc(got, func(a, b string) int {
						return strings.Compare(strings.TrimPrefix(a, "P:"), strings.TrimPrefix(b, "P:"))
					})
					if !res.IsTruncated {
						if res.NextMarker != "" {
							t.Fatal("NextMarker on the last page")
						}
						break
					}
					// As S3: NextMarker only with a delimiter; else the last key.
					if delim == "" {
						if res.NextMarker != "" {
							t.Fatalf("NextMarker %q without a delimiter", res.NextMarker)
						}
						marker = last
					} else {
						if res.NextMarker != last {
							t.Fatalf("NextMarker %q, want %q", res.NextMarker, last)
						}
						marker = res.NextMarker
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("prefix %q delim %q max %d:\n got %q\nwant %q", prefix, delim, maxKeys, got, want)
				}
			}
		}
	}
	// encoding-type=url encodes keys, prefixes and markers.
	_, b := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt?encoding-type=url&prefix=d%20&marker=d", nil, nil)
	var res listV1Result
	if err := xml.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Contents) != 1 || res.Contents[0].Key != "d%20e%2Bf" || res.Prefix != "d%20" || res.EncodingType != "url" {
		t.Fatalf("encoded: %+v", res)
	}
	e.mustStatus(http.StatusBadRequest, http.MethodGet, "/bkt?encoding-type=xml", nil, nil)
	e.mustStatus(http.StatusBadRequest, http.MethodGet, "/bkt?max-keys=-1", nil, nil)
	e.mustStatus(http.StatusBadRequest, http.MethodGet, "/bkt?list-type=3", nil, nil)
	e.mustStatus(http.StatusNotFound, http.MethodGet, "/nobkt", nil, nil)
}

func TestListObjectVersions(t *testing.T) {
	e := newTestEnv(t, Config{})
	keys := opsKeys()
	e.putKeys("bkt", keys)
	for _, delim := range []string{"", "/"} {
		want := expectedListing(keys, "", delim)
		var got []string
		km, vm := "", ""
		for page := 0; page <= len(keys); page++ {
			q := url.Values{"versions": {""}, "delimiter": {delim}, "max-keys": {"2"}, "key-marker": {km}, "version-id-marker": {vm}}
			_, b := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt?"+q.Encode(), nil, nil)
			var res versionsResult
			if err := xml.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Version {
				if v.VersionId != "null" || !v.IsLatest || v.Size != int64(len(v.Key)) || v.ETag == "" {
					t.Fatalf("version %+v", v)
				}
				got = append(got, v.Key)
			}
			for _, p := range res.CommonPrefixes {
				got = append(got, "P:"+p.Prefix)
			}
			slices.SortFunc(got, func(a, b string) int {
				return strings.Compare(strings.TrimPrefix(a, "P:"), strings.TrimPrefix(b, "P:"))
			})
			if !res.IsTruncated {
				break
			}
			if res.NextKeyMarker == "" {
				t.Fatalf("truncated without NextKeyMarker: %s", b)
			}
			km, vm = res.NextKeyMarker, res.NextVersionIdMarker
		}
		if !slices.Equal(got, want) {
			t.Fatalf("delim %q:\n got %q\nwant %q", delim, got, want)
		}
	}
	// The null version of the marker key is the only one: listing resumes after it.
	_, b := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt?versions&key-marker=b&version-id-marker=null&max-keys=1", nil, nil)
	var res versionsResult
	if err := xml.Unmarshal(b, &res); err != nil || len(res.Version) != 1 || res.Version[0].Key != "c/d/e" || res.VersionIdMarker != "null" {
		t.Fatalf("after b/null: %s", b)
	}
	e.mustStatus(http.StatusBadRequest, http.MethodGet, "/bkt?versions&version-id-marker=null", nil, nil)
	e.mustStatus(http.StatusBadRequest, http.MethodGet, "/bkt?versions&key-marker=b&version-id-marker=abc", nil, nil)
	e.mustStatus(http.StatusNotFound, http.MethodGet, "/nobkt?versions", nil, nil)
}

func TestBucketSubresources(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	_, b := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt?versioning", nil, nil)
	var vc struct {
		XMLName xml.Name `xml:"VersioningConfiguration"`
		Status  *string
	}
	if err := xml.Unmarshal(b, &vc); err != nil || vc.Status != nil {
		t.Fatalf("versioning: %s", b)
	}
	for sub, code := range map[string]string{
		"lifecycle": "NoSuchLifecycleConfiguration", "cors": "NoSuchCORSConfiguration", "policy": "NoSuchBucketPolicy",
		"tagging": "NoSuchTagSet", "website": "NoSuchWebsiteConfiguration", "object-lock": "ObjectLockConfigurationNotFoundError",
		"publicAccessBlock": "NoSuchPublicAccessBlockConfiguration", "ownershipControls": "OwnershipControlsNotFoundError",
	} {
		_, b := e.mustStatus(http.StatusNotFound, http.MethodGet, "/bkt?"+sub, nil, nil)
		var doc errorDocument
		if err := xml.Unmarshal(b, &doc); err != nil || doc.Code != code {
			t.Fatalf("%s: %s", sub, b)
		}
		_, b = e.mustStatus(http.StatusNotFound, http.MethodGet, "/nobkt?"+sub, nil, nil)
		if err := xml.Unmarshal(b, &doc); err != nil || doc.Code != "NoSuchBucket" {
			t.Fatalf("%s on a missing bucket: %s", sub, b)
		}
	}
	e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt?lifecycle", nil, nil)
	for _, sub := range []string{"acl", "logging", "notification", "requestPayment", "accelerate"} {
		e.mustStatus(http.StatusOK, http.MethodGet, "/bkt?"+sub, nil, nil)
	}
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt/o", []byte("x"), nil)
	e.mustStatus(http.StatusOK, http.MethodGet, "/bkt/o?acl", nil, nil)
	e.mustStatus(http.StatusNotFound, http.MethodGet, "/bkt/missing?acl", nil, nil)
	e.mustCode(http.StatusBadRequest, "MalformedXML", http.MethodPut, "/bkt?versioning", []byte("<VersioningConfiguration/>"), nil)
	e.mustCode(http.StatusBadRequest, "MalformedXML", http.MethodPut, "/bkt?versioning", []byte("<VersioningConfiguration><Status>Off</Status></VersioningConfiguration>"), nil)
	e.mustCode(http.StatusBadRequest, "MalformedXML", http.MethodPut, "/bkt?versioning", []byte("not xml"), nil)
	e.mustCode(http.StatusNotImplemented, "NotImplemented", http.MethodPut, "/bkt?versioning", []byte("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"), nil)
	e.mustCode(http.StatusNotImplemented, "NotImplemented", http.MethodPut, "/bkt?versioning", []byte("<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>"), nil)
	e.mustCode(http.StatusNotFound, "NoSuchBucket", http.MethodPut, "/nobkt?versioning", []byte("<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"), nil)
	// Suspended is what an unversioned bucket does already: accepted, kept
	// in bucket.json (which every request reads) and answered.
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt?versioning", []byte(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Suspended</Status></VersioningConfiguration>`), nil)
	_, b = e.mustStatus(http.StatusOK, http.MethodGet, "/bkt?versioning", nil, nil)
	vc.Status = nil
	if err := xml.Unmarshal(b, &vc); err != nil || vc.Status == nil || *vc.Status != "Suspended" {
		t.Fatalf("versioning after Suspended: %s", b)
	}
	_, b = e.mustStatus(http.StatusOK, http.MethodGet, "/bkt?versions", nil, nil)
	if !strings.Contains(string(b), "<VersionId>null</VersionId>") {
		t.Fatalf("versions of a suspended bucket: %s", b)
	}
	e.mustStatus(http.StatusNotImplemented, http.MethodPut, "/bkt?lifecycle", nil, nil)
	e.mustStatus(http.StatusBadRequest, http.MethodGet, "/bkt?acl&policy", nil, nil)
}
