package s3srv

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

type listUploadsDoc struct {
	IsTruncated                       bool
	NextKeyMarker, NextUploadIdMarker string
	Upload                            []struct{ Key, UploadId string }
	CommonPrefixes                    []struct{ Prefix string }
}

func (e *testEnv) listUploads(query string) listUploadsDoc {
	e.t.Helper()
	_, b := e.mustStatus(http.StatusOK, http.MethodGet, "/bkt?uploads"+query, nil, nil)
	var doc listUploadsDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		e.t.Fatalf("%s: %v", b, err)
	}
	return doc
}

// TestListMultipartUploads: pending uploads come back sorted by key and
// then initiation, with common prefixes, and paging by key-marker and
// upload-id-marker visits each exactly once, in order, for every page size.
func TestListMultipartUploads(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.mustStatus(http.StatusOK, http.MethodPut, "/bkt", nil, nil)
	initiate := func(key string) string {
		_, b := e.mustStatus(http.StatusOK, http.MethodPost, "/bkt/"+key+"?uploads", nil, nil)
		var init struct{ UploadId string }
		if err := xml.Unmarshal(b, &init); err != nil {
			t.Fatal(err)
		}
		return init.UploadId
	}
	type up struct{ key, id string }
	var want []up
	for _, k := range []string{"a", "b", "b", "c/d", "c/e", "c/e", "f g"} {
		want = append(want, up{k, initiate(k)})
	}
	// A completed upload is not pending any more.
	done := initiate("z")
	e.mustStatus(http.StatusNoContent, http.MethodDelete, "/bkt/z?uploadId="+done, nil, nil)

	all := e.listUploads("")
	var got []up
	for _, u := range all.Upload {
		got = append(got, up{u.Key, u.UploadId})
	}
	if !reflect.DeepEqual(got, want) || all.IsTruncated {
		t.Fatalf("listing %v, want %v", got, want)
	}

	// Common prefixes, and a key-marker that is one of them.
	d := e.listUploads("&delimiter=/")
	if len(d.Upload) != 4 || len(d.CommonPrefixes) != 1 || d.CommonPrefixes[0].Prefix != "c/" {
		t.Fatalf("with delimiter: %+v", d)
	}
	if d := e.listUploads("&delimiter=/&key-marker=c/"); len(d.Upload) != 1 || d.Upload[0].Key != "f g" || len(d.CommonPrefixes) != 0 {
		t.Fatalf("after the prefix: %+v", d)
	}
	if d := e.listUploads("&prefix=c/"); len(d.Upload) != 3 {
		t.Fatalf("prefix: %+v", d)
	}
	if d := e.listUploads("&key-marker=b"); len(d.Upload) != 4 || d.Upload[0].Key != "c/d" {
		t.Fatalf("key-marker alone skips every upload of its key: %+v", d)
	}
	if d := e.listUploads("&upload-id-marker=" + want[1].id); len(d.Upload) != len(want) {
		t.Fatalf("upload-id-marker without key-marker is ignored: %+v", d)
	}
	if d := e.listUploads("&encoding-type=url&prefix=f"); len(d.Upload) != 1 || d.Upload[0].Key != "f%20g" {
		t.Fatalf("encoding-type=url: %+v", d)
	}

	// Paging visits each upload (and the prefix) once, in order.
	for _, delim := range []string{"", "/"} {
		for size := 1; size <= 4; size++ {
			var seen []string
			q := "&max-uploads=" + strconv.Itoa(size) + "&delimiter=" + delim
			for page := 0; ; page++ {
				if page > 20 {
					t.Fatal("paging does not end")
				}
				d := e.listUploads(q)
				// A page gives uploads and prefixes apart: merge them by key.
				type item struct{ key, label string }
				var items []item
				for _, u := range d.Upload {
					items = append(items, item{u.Key, u.Key + "#" + u.UploadId})
				}
				for _, p := range d.CommonPrefixes {
					items = append(items, item{p.Prefix, p.Prefix})
				}
				sort.SliceStable(items, func(i, j int) bool { return items[i].key < items[j].key })
				for _, it := range items {
					seen = append(seen, it.label)
				}
				if !d.IsTruncated {
					break
				}
				q = "&max-uploads=" + strconv.Itoa(size) + "&delimiter=" + delim + "&key-marker=" + url.QueryEscape(d.NextKeyMarker) + "&upload-id-marker=" + d.NextUploadIdMarker
			}
			var exp []string
			for _, u := range want {
				if delim == "/" && strings.HasPrefix(u.key, "c/") {
					if exp[len(exp)-1] != "c/" {
						exp = append(exp, "c/")
					}
					continue
				}
				exp = append(exp, u.key+"#"+u.id)
			}
			if !reflect.DeepEqual(seen, exp) {
				t.Fatalf("delimiter %q, %d per page: %v, want %v", delim, size, seen, exp)
			}
		}
	}

	e.mustCode(http.StatusBadRequest, "InvalidArgument", http.MethodGet, "/bkt?uploads&max-uploads=x", nil, nil)
	e.mustCode(http.StatusBadRequest, "InvalidArgument", http.MethodGet, "/bkt?uploads&encoding-type=zip", nil, nil)
	e.mustCode(http.StatusNotFound, "NoSuchBucket", http.MethodGet, "/nobkt?uploads", nil, nil)
}
