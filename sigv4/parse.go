package sigv4

// Parsing what a signed request claims: the Authorization header or the
// presigned query parameters, and the credential scope.

import (
	"crypto/sha256"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// requestURL is the URL as the client sent it: RequestURI survives
// http.StripPrefix, r.URL does not.
func requestURL(r *http.Request) (*url.URL, error) {
	if r.RequestURI == "" || r.RequestURI == "*" {
		u := *r.URL
		return &u, nil
	}
	return url.ParseRequestURI(r.RequestURI)
}

func (v *Verifier) parseHeaderForm(authz string, h http.Header) (sigRequest, error) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(authz), " ")
	if !ok || alg != sigAlgorithm {
		return sigRequest{}, fail(ErrUnsupported, "unsupported authorization scheme (want "+sigAlgorithm+")")
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return sigRequest{}, fail(ErrMalformedRequest, "malformed Authorization header")
		}
		switch k {
		case "Credential", "SignedHeaders", "Signature":
		default:
			return sigRequest{}, fail(ErrMalformedRequest, "malformed Authorization header")
		}
		if _, dup := fields[k]; dup {
			return sigRequest{}, fail(ErrMalformedRequest, "malformed Authorization header")
		}
		fields[k] = val
	}
	dates := h.Values(hdrAmzDate)
	if len(dates) != 1 {
		return sigRequest{}, fail(ErrMalformedRequest, "missing or repeated X-Amz-Date header")
	}
	return parseSigParts(fields["Credential"], fields["SignedHeaders"], fields["Signature"], dates[0], false)
}

func (v *Verifier) parseQueryForm(q url.Values) (sigRequest, error) {
	for _, k := range []string{qAlgorithm, qCredential, qDate, qExpires, qSignedHeaders, qSignature} {
		if len(q[k]) != 1 {
			return sigRequest{}, fail(ErrMalformedRequest, "presigned URL needs exactly one "+k)
		}
	}
	if q.Get(qAlgorithm) != sigAlgorithm {
		return sigRequest{}, fail(ErrUnsupported, "unsupported X-Amz-Algorithm (want "+sigAlgorithm+")")
	}
	sr, err := parseSigParts(q.Get(qCredential), q.Get(qSignedHeaders), q.Get(qSignature), q.Get(qDate), true)
	if err != nil {
		return sigRequest{}, err
	}
	secs, err := strconv.ParseInt(q.Get(qExpires), 10, 64)
	// Compare in seconds: secs*time.Second could overflow and wrap around.
	if err != nil || secs <= 0 || secs > int64(maxPresignExpiry/time.Second) {
		return sigRequest{}, fail(ErrMalformedRequest, "X-Amz-Expires must be 1..604800 seconds")
	}
	now := v.now()
	if now.After(sr.t.Add(time.Duration(secs) * time.Second)) {
		return sigRequest{}, fail(ErrRequestTime, "presigned URL has expired")
	}
	if sr.t.After(now.Add(v.maxSkew)) {
		return sigRequest{}, fail(ErrRequestTime, "request time is too far in the future")
	}
	return sr, nil
}

func parseSigParts(credential, signedHeaders, signature, date string, presigned bool) (sigRequest, error) {
	sr := sigRequest{presigned: presigned}
	parts := strings.Split(credential, "/")
	if len(parts) < 5 || parts[len(parts)-1] != "aws4_request" {
		return sr, fail(ErrMalformedRequest, "malformed credential scope")
	}
	n := len(parts)
	sr.accessKey = strings.Join(parts[:n-4], "/")
	scopeDate, region, service := parts[n-4], parts[n-3], parts[n-2]
	if sr.accessKey == "" || region == "" || service == "" {
		return sr, fail(ErrMalformedRequest, "malformed credential scope")
	}
	sr.region, sr.service = region, service
	t, err := time.Parse(amzDateLayout, date)
	if err != nil {
		return sr, fail(ErrMalformedRequest, "malformed X-Amz-Date (want "+amzDateLayout+")")
	}
	sr.t = t
	if scopeDate != t.Format(scopeDateLayout) {
		return sr, fail(ErrMalformedRequest, "credential scope date does not match X-Amz-Date")
	}
	if signedHeaders == "" {
		return sr, fail(ErrMalformedRequest, "no signed headers")
	}
	sr.signedHeadersStr = signedHeaders
	sr.signedHeaders = strings.Split(signedHeaders, ";")
	hasHost := false
	for _, name := range sr.signedHeaders {
		if name == "" || !validHeaderName(name) {
			return sr, fail(ErrMalformedRequest, "malformed SignedHeaders")
		}
		if name == "host" {
			hasHost = true
		}
	}
	if !hasHost {
		return sr, fail(ErrMalformedRequest, "the host header must be signed")
	}
	if len(signature) != sha256.Size*2 || !isLowerHex(signature) {
		return sr, fail(ErrMalformedRequest, "malformed signature")
	}
	sr.signature = signature
	return sr, nil
}

func (v *Verifier) checkScope(sr sigRequest) error {
	if len(v.regions) > 0 && !slices.Contains(v.regions, sr.region) {
		return fail(ErrMalformedRequest, "region not accepted")
	}
	if len(v.services) > 0 && !slices.Contains(v.services, sr.service) {
		return fail(ErrMalformedRequest, "service not accepted")
	}
	if !sr.presigned {
		d := v.now().Sub(sr.t)
		if d < 0 {
			d = -d
		}
		if d > v.maxSkew {
			return fail(ErrRequestTime, "request time is too skewed")
		}
	}
	return nil
}

func authzFields(authz string) map[string]string {
	out := map[string]string{}
	_, rest, _ := strings.Cut(authz, " ")
	for part := range strings.SplitSeq(rest, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
			out[k] = v
		}
	}
	return out
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// validHeaderName reports whether s is a lowercase header name as
// SignedHeaders and trailers carry them.
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return s != ""
}
