package s3srv

// Conditional requests: If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since on GetObject and HeadObject, and their
// x-amz-copy-source-if-* forms on CopyObject and UploadPartCopy.

import (
	"net/http"
	"strings"
	"time"
)

func errPreconditionFailed() *Error {
	return s3err("PreconditionFailed", http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold")
}

// etagListMatches reports whether the If-Match/If-None-Match value list
// (comma-separated entity tags, quoted or not, or "*") names etag (unquoted).
// Weak tags compare as their opaque part, as S3 does.
func etagListMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		if strings.Trim(t, `"`) == etag && etag != "" {
			return true
		}
	}
	return false
}

// conditionOutcome is the result of evaluating request preconditions.
type conditionOutcome int

const (
	condProceed     conditionOutcome = iota
	condFailed                       // 412 Precondition Failed
	condNotModified                  // 304 Not Modified (a copy: 412)
)

// evalConditions applies the four preconditions named by the header names
// in h in the order and with the precedence of RFC 9110 section 13.2.2, as
// S3 does: If-Match, else If-Unmodified-Since (412 when false); then
// If-None-Match, else If-Modified-Since (304 when false). So a true If-Match
// overrides a false If-Unmodified-Since, and a present If-None-Match makes
// If-Modified-Since irrelevant. Unparsable dates are ignored. Times compare
// at the one-second resolution of HTTP dates.
func evalConditions(h http.Header, ifMatch, ifNoneMatch, ifModified, ifUnmodified, etag string, lastModified time.Time) conditionOutcome {
	lm := lastModified.Truncate(time.Second)
	if v := h.Get(ifMatch); v != "" {
		if !etagListMatches(v, etag) {
			return condFailed
		}
	} else if t, err := http.ParseTime(h.Get(ifUnmodified)); err == nil && lm.After(t) {
		return condFailed
	}
	if v := h.Get(ifNoneMatch); v != "" {
		if etagListMatches(v, etag) {
			return condNotModified
		}
	} else if t, err := http.ParseTime(h.Get(ifModified)); err == nil && !lm.After(t) {
		return condNotModified
	}
	return condProceed
}

// checkGetConditions evaluates the preconditions of a GetObject or
// HeadObject on an object with etag (unquoted) and lastModified. notModified
// means answer 304; err is PreconditionFailed.
func checkGetConditions(h http.Header, etag string, lastModified time.Time) (notModified bool, err error) {
	switch evalConditions(h, "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", etag, lastModified) {
	case condFailed:
		return false, errPreconditionFailed()
	case condNotModified:
		return true, nil
	}
	return false, nil
}

// checkCopySourceConditions evaluates the x-amz-copy-source-if-match,
// -if-none-match, -if-modified-since and -if-unmodified-since headers of a
// CopyObject or UploadPartCopy against the source object's etag (unquoted,
// as objectETag returns it) and lastModified. Any condition that does not
// hold is PreconditionFailed (412), as S3 answers copies.
func checkCopySourceConditions(h http.Header, etag string, lastModified time.Time) error {
	if evalConditions(h, "X-Amz-Copy-Source-If-Match", "X-Amz-Copy-Source-If-None-Match",
		"X-Amz-Copy-Source-If-Modified-Since", "X-Amz-Copy-Source-If-Unmodified-Since", etag, lastModified) != condProceed {
		return errPreconditionFailed()
	}
	return nil
}

// writeNotModified answers 304 for an object: its ETag and Last-Modified,
// no body.
func writeNotModified(w http.ResponseWriter, etag string, lastModified time.Time) {
	w.Header().Set("ETag", quoteETag(etag))
	w.Header().Set("Last-Modified", lastModified.UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusNotModified)
}
