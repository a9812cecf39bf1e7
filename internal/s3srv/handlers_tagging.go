package s3srv

// Object tagging: Put/Get/DeleteObjectTagging, x-amz-tagging on PutObject
// and CreateMultipartUpload, the copy tagging directive, and S3's limits.

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// S3's limits of an object's tag set.
const (
	maxTags        = 10
	maxTagKeyLen   = 128 // characters
	maxTagValueLen = 256 // characters
	maxTaggingBody = 64 << 10
)

func errInvalidTag(msg string) *Error { return s3err("InvalidTag", http.StatusBadRequest, msg) }

// tagCharsOK reports whether v uses only the characters S3 allows in tags:
// letters, digits, white space and + - = . _ : / @.
func tagCharsOK(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, c := range v {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !unicode.IsSpace(c) && !strings.ContainsRune("+-=._:/@", c) {
			return false
		}
	}
	return true
}

// tagPair is one tag as a request gave it.
type tagPair struct{ key, value string }

// validTags checks a tag set against S3's rules and returns it as stored
// (nil for an empty set).
func validTags(pairs []tagPair) (map[string]string, *Error) {
	if len(pairs) > maxTags {
		return nil, errInvalidTag("Object tags cannot be greater than 10")
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	tags := make(map[string]string, len(pairs))
	for _, p := range pairs {
		switch {
		case p.key == "" || !tagCharsOK(p.key):
			return nil, errInvalidTag("The TagKey you have provided is invalid")
		case utf8.RuneCountInString(p.key) > maxTagKeyLen:
			return nil, errInvalidTag("The TagKey you have provided is too long, max 128")
		case strings.HasPrefix(strings.ToLower(p.key), "aws:"):
			return nil, errInvalidTag("Your TagKey cannot be prefixed with aws:")
		case !tagCharsOK(p.value):
			return nil, errInvalidTag("The TagValue you have provided is invalid")
		case utf8.RuneCountInString(p.value) > maxTagValueLen:
			return nil, errInvalidTag("The TagValue you have provided is too long, max 256")
		}
		if _, dup := tags[p.key]; dup {
			return nil, errInvalidTag("Cannot provide multiple Tags with the same key")
		}
		tags[p.key] = p.value
	}
	return tags, nil
}

// tagsFromHeader parses x-amz-tagging (URL query form, "k1=v1&k2=v2") of a
// PutObject, CreateMultipartUpload or CopyObject with the REPLACE tagging
// directive. No header is no tags.
func tagsFromHeader(h http.Header) (map[string]string, *Error) {
	v := h.Get("X-Amz-Tagging")
	if v == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(v)
	if err != nil {
		return nil, errInvalidArgument("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
	}
	pairs := make([]tagPair, 0, len(q))
	for k, vs := range q {
		if len(vs) > 1 {
			return nil, errInvalidTag("Cannot provide multiple Tags with the same key")
		}
		pairs = append(pairs, tagPair{key: k, value: vs[0]})
	}
	return validTags(pairs)
}

// copyTags returns the tags of a CopyObject's destination: the source's
// (x-amz-tagging-directive COPY, the default) or x-amz-tagging's (REPLACE).
func copyTags(h http.Header, src map[string]string) (map[string]string, *Error) {
	switch h.Get("X-Amz-Tagging-Directive") {
	case "", "COPY":
		return src, nil
	case "REPLACE":
		return tagsFromHeader(h)
	}
	return nil, errInvalidArgument("Unknown tagging directive.")
}

// tagging is the body of PutObjectTagging and GetObjectTagging.
type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  struct {
		Tags []tagXML `xml:"Tag"`
	} `xml:"TagSet"`
}

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

func (s *Server) getObjectTagging(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	om, err := s.objectMetaFor(r, bucket, key)
	if err != nil {
		return err
	}
	res := tagging{Xmlns: s3NS}
	keys := make([]string, 0, len(om.Tags))
	for k := range om.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		res.TagSet.Tags = append(res.TagSet.Tags, tagXML{Key: k, Value: om.Tags[k]})
	}
	return s.writeXML(w, res)
}

func (s *Server) putObjectTagging(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	if _, err := s.objectMetaFor(r, bucket, key); err != nil {
		return err
	}
	var body tagging
	if err := s.readXMLPayload(r, &body, maxTaggingBody, false); err != nil {
		return err
	}
	pairs := make([]tagPair, len(body.TagSet.Tags))
	for i, t := range body.TagSet.Tags {
		pairs[i] = tagPair{key: t.Key, value: t.Value}
	}
	tags, terr := validTags(pairs)
	if terr != nil {
		return terr
	}
	if err := s.setTags(bucket, key, tags); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteObjectTagging(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	if _, err := s.objectMetaFor(r, bucket, key); err != nil {
		return err
	}
	if err := s.setTags(bucket, key, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setTags replaces the tag set of bucket/key in its sidecar (one atomic
// rename), retrying if the object is overwritten meanwhile.
func (s *Server) setTags(bucket, key string, tags map[string]string) error {
	for try := 0; ; try++ {
		om, err := s.store.statObject(bucket, key)
		if err != nil {
			return err
		}
		err = s.store.updateObjectMeta(bucket, key, om.DataFile, func(m *objectMeta) { m.Tags = tags })
		if !errors.Is(err, errStoreConflict) || try == 2 {
			return err
		}
	}
}
