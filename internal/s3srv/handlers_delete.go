package s3srv

// DeleteObjects (POST /bucket?delete).

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
)

const (
	// maxDeleteKeys is S3's limit of keys per DeleteObjects request.
	maxDeleteKeys = 1000
	// maxDeleteBody bounds a DeleteObjects body: 1000 keys of 1024 bytes
	// and their XML.
	maxDeleteBody = 2 << 20
)

// readXMLPayload reads an XML request body of at most limit bytes through
// openPayload (so Content-MD5 and x-amz-checksum-* are verified) into v.
// With requireDigest a body without either is refused, as S3 refuses
// DeleteObjects without one.
func (s *Server) readXMLPayload(r *http.Request, v any, limit int64, requireDigest bool) error {
	pr, perr := s.openPayload(r)
	if perr != nil {
		return perr
	}
	if requireDigest && len(pr.checks) == 0 && pr.contentMD5 == "" {
		return errInvalidRequest("Missing required header for this request: Content-Md5.")
	}
	if pr.Size() > limit {
		return errMalformedXML()
	}
	b, err := io.ReadAll(pr)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return err
	}
	// Content-MD5 of a stored body is checked by sse in its one pass; an
	// XML body is not stored, so its Content-MD5 is checked here.
	if pr.contentMD5 != "" {
		sum := md5.Sum(b)
		want, _ := base64.StdEncoding.DecodeString(pr.contentMD5) // validated by openPayload
		if !bytes.Equal(sum[:], want) {
			return errBadDigest("The Content-MD5 you specified did not match what we received.")
		}
	}
	if err := xml.Unmarshal(b, v); err != nil {
		return errMalformedXML()
	}
	return nil
}

// deleteRequest is DeleteObjects' request body.
type deleteRequest struct {
	XMLName xml.Name         `xml:"Delete"`
	Quiet   bool             `xml:"Quiet"`
	Objects []deleteObjectID `xml:"Object"`
}

type deleteObjectID struct {
	Key       string  `xml:"Key"`
	VersionID *string `xml:"VersionId"`
}

type deleteResult struct {
	XMLName xml.Name        `xml:"DeleteResult"`
	Xmlns   string          `xml:"xmlns,attr"`
	Deleted []deletedObject `xml:"Deleted"`
	Errors  []deleteError   `xml:"Error"`
}

type deletedObject struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
}

type deleteError struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
}

// deleteObjects serves DeleteObjects: up to 1000 keys, each deleted as
// DeleteObject would (a missing key counts as deleted). The body must carry
// Content-MD5 or an x-amz-checksum-*. Quiet reports only the errors. A
// VersionId is accepted if it is "null", the one version this server keeps;
// any other is a per-key NoSuchVersion, as on an unversioned S3 bucket.
func (s *Server) deleteObjects(w http.ResponseWriter, r *http.Request, bucket string) error {
	if _, err := s.store.bucketInfo(bucket); err != nil {
		return err
	}
	var req deleteRequest
	if err := s.readXMLPayload(r, &req, maxDeleteBody, true); err != nil {
		return err
	}
	if len(req.Objects) == 0 || len(req.Objects) > maxDeleteKeys {
		return errMalformedXML()
	}
	res := deleteResult{Xmlns: s3NS}
	for _, o := range req.Objects {
		vid := ""
		if o.VersionID != nil {
			vid = *o.VersionID
		}
		fail := func(e *Error) {
			res.Errors = append(res.Errors, deleteError{Key: o.Key, VersionID: vid, Code: e.Code, Message: e.Message})
		}
		if o.VersionID != nil && vid != nullVersion {
			fail(errNoSuchVersion())
			continue
		}
		if e := validObjectKey(o.Key); e != nil {
			fail(e)
			continue
		}
		if err := s.store.deleteObject(bucket, o.Key); err != nil {
			e := toS3Error(err)
			if e.Status >= 500 {
				s.log.Error("s3server: DeleteObjects: deleting a key failed", "bucket", bucket, "code", e.Code, "cause", err.Error())
			}
			fail(e)
			continue
		}
		if !req.Quiet {
			res.Deleted = append(res.Deleted, deletedObject{Key: o.Key, VersionID: vid})
		}
	}
	return s.writeXML(w, res)
}
