package sigv4

// Recomputing the signature with the AWS SDK's signer over the request as
// the client signed it.

import (
	"crypto/subtle"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// rebuildRequest copies the parts of r the client signed: method, original
// path and query (minus the signature), host and the signed headers only.
func rebuildRequest(r *http.Request, u *url.URL, q url.Values, sr sigRequest) (*http.Request, error) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = u.Host
	}
	rq := url.Values{}
	for k, vs := range q {
		if sr.presigned && k == qSignature {
			continue
		}
		rq[k] = vs
	}
	rr := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Scheme: scheme, Host: host, Path: u.Path, RawPath: u.RawPath, RawQuery: rq.Encode()},
		Host:   host,
		Header: http.Header{},
	}
	for _, name := range sr.signedHeaders {
		switch name {
		case "host":
			continue
		case "content-length":
			rr.ContentLength = r.ContentLength
			continue
		}
		vals := r.Header.Values(name)
		if len(vals) == 0 {
			return nil, fail(ErrMalformedRequest, "a signed header is missing from the request")
		}
		if len(vals) > 1 {
			// Signed as the lines joined by ",": "a,b" and lines "a", "b"
			// sign alike, but Header.Get sees only "a".
			return nil, fail(ErrMalformedRequest, "a signed header is repeated")
		}
		rr.Header[textproto.CanonicalMIMEHeaderKey(name)] = vals
	}
	// Every x-amz-* header must be signed (as S3 requires), or whoever holds
	// the request could add one (e.g. X-Amz-Copy-Source on a presigned PUT).
	// x-amz-content-sha256 is exempt: its value is the payload hash in the
	// canonical request, so it is bound either way (awscurl leaves it out).
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-") && lk != "x-amz-content-sha256" && !slices.Contains(sr.signedHeaders, lk) {
			return nil, fail(ErrMalformedRequest, "an x-amz-* header is not signed")
		}
	}
	return rr, nil
}

// matches reports whether the SDK signer, given payload hash ph, produces the
// client's signature for rr. It tries the service's URI escaping rule first
// (S3 signs the path as is; other services escape it again) and then the
// other, but the other only for a path without percent-escapes: with one,
// a signature over ".../a%2520b" under one rule would also authenticate
// ".../a%20b" under the other, another resource.
func (v *Verifier) matches(r *http.Request, rr *http.Request, creds aws.Credentials, sr sigRequest, ph string) (bool, error) {
	s3Style := sr.service == "s3"
	rules := []bool{s3Style, !s3Style}
	if strings.Contains(rr.URL.EscapedPath(), "%") {
		rules = rules[:1]
	}
	for _, disableEscaping := range rules {
		got, signedHeaders, err := v.expectedSignature(r, rr, creds, sr, ph, disableEscaping)
		if err != nil {
			return false, err
		}
		if signedHeaders != sr.signedHeadersStr {
			return false, signedHeadersError(sr.signedHeaders, signedHeaders)
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(sr.signature)) == 1 {
			return true, nil
		}
	}
	return false, nil
}

// signedHeadersError explains why the SDK signs a header list (want) other
// than the client's (got).
//
// S3 builds the canonical headers in the order of the names sorted
// bytewise, whatever order SignedHeaders lists them in, so a client that
// sorted them otherwise signed another canonical request: S3 answers
// SignatureDoesNotMatch. curl 7.84 to 8.9 (--aws-sigv4) sorts whole
// "name:value" lines, which puts x-amz-server-side-encryption-customer-key-md5
// before x-amz-server-side-encryption-customer-key ('-' < ':'); curl fixed it
// in 8.10 (curl#14370). Any other difference is a header the SDK's signer
// will not sign (User-Agent, Expect, ...): such a request cannot be verified.
func signedHeadersError(got []string, want string) error {
	w := strings.Split(want, ";")
	if len(got) == len(w) && !slices.IsSorted(got) {
		g := slices.Clone(got)
		slices.Sort(g)
		if slices.Equal(g, w) {
			return fail(ErrSignatureMismatch, "signature does not match: SignedHeaders is not sorted by name, and S3 signs the headers in sorted order (curl before 8.10 sorts names that prefix one another wrongly)")
		}
	}
	return fail(ErrUnsupported, "signed headers cannot be reproduced")
}

func (v *Verifier) expectedSignature(r *http.Request, rr *http.Request, creds aws.Credentials, sr sigRequest, ph string, disableEscaping bool) (sig, signedHeaders string, err error) {
	opt := func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = disableEscaping
		o.DisableHeaderHoisting = true
	}
	c := rr.Clone(r.Context())
	if sr.presigned {
		signed, _, err := v.signer.PresignHTTP(r.Context(), creds, c, ph, sr.service, sr.region, sr.t, opt)
		if err != nil {
			return "", "", fail(ErrMalformedRequest, "could not compute the signature")
		}
		su, err := url.Parse(signed)
		if err != nil {
			return "", "", fail(ErrMalformedRequest, "could not compute the signature")
		}
		sq := su.Query()
		return sq.Get(qSignature), sq.Get(qSignedHeaders), nil
	}
	if err := v.signer.SignHTTP(r.Context(), creds, c, ph, sr.service, sr.region, sr.t, opt); err != nil {
		return "", "", fail(ErrMalformedRequest, "could not compute the signature")
	}
	fields := authzFields(c.Header.Get(hdrAuthorization))
	return fields["Signature"], fields["SignedHeaders"], nil
}
