package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/envkms/kms/internal/jsondup"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/envkms/kms"
	"github.com/envkms/kms/sigv4"
)

// readBody reads the whole body (so a payload signature is verified at EOF
// before anything acts on it), bounded by the handler's limit.
func (c *call) readBody() ([]byte, error) {
	if c.r.Body == nil || c.r.Body == http.NoBody {
		return nil, nil
	}
	if !plainBody(c.r) {
		return nil, badRequest("unsupported Content-Encoding: the body must be plain JSON")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, c.h.maxBody))
	if err == nil {
		return body, nil
	}
	clear(body)
	var mbe *http.MaxBytesError
	var se *sigv4.Error
	switch {
	case errors.As(err, &mbe):
		return nil, badRequest(fmt.Sprintf("request body exceeds %d bytes", c.h.maxBody))
	case errors.As(err, &se):
		// The body is not the one signed, or its aws-chunked framing is bad.
		return nil, &apiError{status: http.StatusUnauthorized, msg: sigv4Reason(se), err: err}
	case errors.Is(err, ErrUnauthenticated):
		return nil, &apiError{status: http.StatusUnauthorized, msg: "authentication required", err: err}
	default:
		return nil, badRequest("could not read the request body")
	}
}

// plainBody reports whether r.Body yields the JSON as sent, not still
// encoded: Content-Encoding names nothing but identity, or aws-chunked that
// the SigV4 verifier decoded (and whose chunks it verified). Anything else
// would be read as if it were the JSON itself: a gzip body, or an
// aws-chunked body bound by a hex x-amz-content-sha256, which covers the
// framing and is not decoded (S3 does not decode it either).
func plainBody(r *http.Request) bool {
	_, decoded := r.Body.(*sigv4.ChunkedReader)
	for _, v := range r.Header.Values("Content-Encoding") {
		for e := range strings.SplitSeq(v, ",") {
			switch e = strings.TrimSpace(e); {
			case e == "", strings.EqualFold(e, "identity"):
			case strings.EqualFold(e, "aws-chunked") && decoded:
			default:
				return false
			}
		}
	}
	return true
}

// decodeBody decodes the JSON body into v strictly: unknown fields, fields
// given twice (in any case, at any depth; see jsondup.Check), trailing
// data, wrong types and oversized bodies are 400s whose messages name at most
// a field, never a value. An empty body is an error when required, otherwise
// it leaves v untouched and reports false. The body buffer is cleared after
// decoding (it may hold a secret).
func (c *call) decodeBody(v any, required bool) (bool, error) {
	body, err := c.readBody()
	if err != nil {
		return false, err
	}
	defer clear(body)
	if len(bytes.TrimSpace(body)) == 0 {
		if required {
			return false, badRequest("request body is required")
		}
		return false, nil
	}
	if err := decodeStrict(body, v); err != nil {
		return false, err
	}
	return true, nil
}

// decodeStrict is the JSON decoding used for every request body. An object
// that gives a member twice is refused (see jsondup.Check) before it is
// decoded.
func decodeStrict(body []byte, v any) error {
	if err := jsondup.Check(body, reflect.TypeOf(v)); err != nil {
		return &apiError{status: http.StatusBadRequest, msg: err.Error(), err: err}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(jsonErrorText(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("unexpected data after the JSON object")
	}
	return nil
}

// jsonErrorText describes a decoding error without echoing input values: the
// standard library's messages may quote them (e.g. "number 1234" for a
// master_key of the wrong type).
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var ce *kms.ConfigError
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae.msg
	case errors.As(err, &ce):
		return ce.Error() // names fields only, by contract of package kms
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("invalid JSON: field %s has the wrong type", quoteField(te.Field))
		}
		return "invalid JSON: wrong type for the request body"
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "invalid JSON: truncated"
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "invalid JSON: unknown field " + quoteField(strings.Trim(f, `"`))
	}
	return "invalid JSON"
}

// quoteField quotes a field name from the request, bounded in length.
func quoteField(f string) string {
	const maxLen = 64
	if len(f) > maxLen {
		f = f[:maxLen] + "..."
	}
	return fmt.Sprintf("%q", f)
}

// writeJSON writes v with the given status.
func (c *call) writeJSON(status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return apiErr(http.StatusInternalServerError, "internal error")
	}
	c.writeRaw(status, b)
	return nil
}

func (c *call) writeRaw(status int, b []byte) {
	if status < 400 && !c.authorized {
		// A handler bug: it answered before authorizing. Refuse.
		c.reason = "internal error: response before authorization"
		status, b = http.StatusInternalServerError, []byte(`{"code":"InternalError","message":"internal error"}`)
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
	c.status = status
	c.written = true
}

func (c *call) noContent() error {
	if !c.authorized {
		c.writeRaw(http.StatusNoContent, nil) // refuses, see writeRaw
		return nil
	}
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(http.StatusNoContent)
	c.status = http.StatusNoContent
	c.written = true
	return nil
}

// errorBody is every error response.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// fail writes err as {"code","message"}.
func (c *call) fail(err error) {
	ae := managerError(err)
	if ae.reason != "" {
		c.reason = ae.reason
	} else {
		c.reason = ae.msg
	}
	if c.written {
		return
	}
	b, _ := json.Marshal(errorBody{Code: codeFor(ae.status), Message: ae.msg})
	c.writeRaw(ae.status, b)
}
