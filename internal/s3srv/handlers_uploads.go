package s3srv

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"time"
)

// ListMultipartUploads (GET /bucket?uploads): the pending uploads of a
// bucket, sorted as S3 sorts them, by key and then by initiation time, with
// prefix, delimiter (common prefixes), key-marker, upload-id-marker (only
// with key-marker, as in S3), max-uploads (at most 1000) and encoding-type.
// Uploads are kept by ID, not by key, so a listing reads every pending
// upload's record once, but holds only max-uploads+1 of them: the smallest
// past the markers.

type listUploadsResult struct {
	XMLName            xml.Name       `xml:"ListMultipartUploadsResult"`
	Xmlns              string         `xml:"xmlns,attr"`
	Bucket             string         `xml:"Bucket"`
	KeyMarker          string         `xml:"KeyMarker"`
	UploadIDMarker     string         `xml:"UploadIdMarker"`
	NextKeyMarker      string         `xml:"NextKeyMarker,omitempty"`
	NextUploadIDMarker string         `xml:"NextUploadIdMarker,omitempty"`
	Delimiter          string         `xml:"Delimiter,omitempty"`
	Prefix             string         `xml:"Prefix"`
	MaxUploads         int            `xml:"MaxUploads"`
	IsTruncated        bool           `xml:"IsTruncated"`
	EncodingType       string         `xml:"EncodingType,omitempty"`
	Uploads            []uploadInfo   `xml:"Upload"`
	CommonPrefixes     []commonPrefix `xml:"CommonPrefixes"`
}

type uploadInfo struct {
	Key          string `xml:"Key"`
	UploadID     string `xml:"UploadId"`
	Initiator    owner  `xml:"Initiator"`
	Owner        owner  `xml:"Owner"`
	StorageClass string `xml:"StorageClass"`
	Initiated    string `xml:"Initiated"`
}

// uploadItem is one entry of the listing: an upload, or a common prefix
// (prefix true, key the prefix) standing for every upload under it.
type uploadItem struct {
	key       string
	initiated time.Time
	id        string
	prefix    bool
}

// compare orders items as the listing does: by key, then initiation time,
// then ID (a common prefix sorts before the uploads of a key equal to it;
// two prefixes with the same key are the same item).
func (a uploadItem) compare(b uploadItem) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	if a.prefix != b.prefix {
		if a.prefix {
			return -1
		}
		return 1
	}
	if c := a.initiated.Compare(b.initiated); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

func (s *Server) listMultipartUploads(w http.ResponseWriter, r *http.Request, bucket string) error {
	q := r.URL.Query()
	p, perr := parseListParams(q, "max-uploads")
	if perr != nil {
		return perr
	}
	keyMarker, idMarker := q.Get("key-marker"), q.Get("upload-id-marker")
	if keyMarker == "" {
		idMarker = "" // S3 ignores upload-id-marker without key-marker
	}

	// past reports whether it comes after the page before: keys after
	// key-marker, and with upload-id-marker, the uploads of key-marker
	// after that one (by initiation time, then ID; by ID alone if it is
	// not pending any more). A common prefix at or before key-marker was
	// listed before, or holds the marker.
	var marker uploadItem
	if idMarker != "" {
		marker = uploadItem{key: keyMarker, id: idMarker}
		if um, err := s.store.getUpload(bucket, keyMarker, idMarker); err == nil {
			marker.initiated = um.Initiated
		} else if !errors.Is(err, errStoreNoUpload) {
			return err
		}
	}
	past := func(it uploadItem) bool {
		switch {
		case keyMarker == "" || it.key > keyMarker:
			return true
		case it.key < keyMarker || it.prefix || idMarker == "":
			return false
		case marker.initiated.IsZero():
			return it.id > idMarker
		}
		return marker.compare(it) < 0
	}
	// The smallest items past the markers, one more than a page.
	sel := &pageSelector[uploadItem]{limit: p.maxKeys + 1, cmp: uploadItem.compare}
	err := s.store.eachUpload(bucket, func(um uploadMeta) {
		if !strings.HasPrefix(um.Key, p.prefix) {
			return
		}
		it := uploadItem{key: um.Key, initiated: um.Initiated, id: um.UploadID}
		if p.delimiter != "" {
			if i := strings.Index(um.Key[len(p.prefix):], p.delimiter); i >= 0 {
				it = uploadItem{key: um.Key[:len(p.prefix)+i+len(p.delimiter)], prefix: true}
			}
		}
		if past(it) {
			sel.offer(it)
		}
	})
	if err != nil {
		return err
	}
	res := listUploadsResult{
		Xmlns: s3NS, Bucket: bucket, KeyMarker: p.enc(keyMarker), UploadIDMarker: idMarker,
		Delimiter: p.enc(p.delimiter), Prefix: p.enc(p.prefix), MaxUploads: p.maxKeys, EncodingType: p.encodingType,
	}
	page := sel.sel[:min(len(sel.sel), p.maxKeys)]
	res.IsTruncated = len(sel.sel) > p.maxKeys
	for _, it := range page {
		if it.prefix {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: p.enc(it.key)})
			continue
		}
		res.Uploads = append(res.Uploads, uploadInfo{
			Key: p.enc(it.key), UploadID: it.id, Initiator: serverOwner(), Owner: serverOwner(),
			StorageClass: "STANDARD", Initiated: xmlTime(it.initiated),
		})
	}
	if res.IsTruncated && len(page) > 0 {
		last := page[len(page)-1]
		res.NextKeyMarker = p.enc(last.key)
		if !last.prefix {
			res.NextUploadIDMarker = last.id
		}
	}
	return s.writeXML(w, res)
}
