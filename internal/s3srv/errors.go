package s3srv

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
)

// Error is an S3 error: the code and HTTP status S3 uses, and a message that
// is safe to show the client (it never holds a key, secret or object data).
// Handlers return it; the server renders it as the S3 XML error document.
type Error struct {
	Code    string // S3 error code, e.g. "NoSuchKey"
	Status  int    // HTTP status
	Message string // client-safe description
	Err     error  // optional cause, logged but not sent to the client
	// MaxSizeAllowed, when not zero, is the limit a "too large" error
	// exceeded (S3 sends it as an element of the error document).
	MaxSizeAllowed int64
}

// Error describes the failure; it never includes key material.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s (%d): %s: %v", e.Code, e.Status, e.Message, e.Err)
	}
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrDataDir is wrapped by New's errors about the data directory.
var ErrDataDir = errors.New("s3srv: unusable data directory")

func s3err(code string, status int, msg string) *Error {
	return &Error{Code: code, Status: status, Message: msg}
}

// S3 errors used by the handlers. Fresh values are built per request
// (errorf / the constructors below); these functions keep codes, statuses and
// default messages in one place.
func errAccessDenied(cause error) *Error {
	return &Error{Code: "AccessDenied", Status: http.StatusForbidden, Message: "Access Denied", Err: cause}
}
func errNoSuchBucket() *Error {
	return s3err("NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist")
}
func errNoSuchKey() *Error {
	return s3err("NoSuchKey", http.StatusNotFound, "The specified key does not exist.")
}
func errNoSuchUpload() *Error {
	return s3err("NoSuchUpload", http.StatusNotFound, "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.")
}
func errBucketExists() *Error {
	return s3err("BucketAlreadyOwnedByYou", http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it.")
}
func errBucketNotEmpty() *Error {
	return s3err("BucketNotEmpty", http.StatusConflict, "The bucket you tried to delete is not empty")
}
func errInvalidBucketName() *Error {
	return s3err("InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid.")
}
func errKeyTooLong() *Error {
	return s3err("KeyTooLongError", http.StatusBadRequest, "Your key is too long")
}
func errInvalidArgument(msg string) *Error {
	return s3err("InvalidArgument", http.StatusBadRequest, msg)
}
func errInvalidRequest(msg string) *Error {
	return s3err("InvalidRequest", http.StatusBadRequest, msg)
}
func errMalformedXML() *Error {
	return s3err("MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema.")
}
func errInvalidRange() *Error {
	return s3err("InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable")
}
func errInvalidPart(msg string) *Error {
	return s3err("InvalidPart", http.StatusBadRequest, msg)
}
func errInvalidPartOrder() *Error {
	return s3err("InvalidPartOrder", http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
}
func errEntityTooSmall() *Error {
	return s3err("EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size.")
}
func errEntityTooLarge() *Error {
	e := s3err("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size.")
	e.MaxSizeAllowed = maxPutSize
	return e
}
func errMissingContentLength() *Error {
	return s3err("MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header.")
}
func errIncompleteBody() *Error {
	return s3err("IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
}
func errBadDigest(msg string) *Error {
	return s3err("BadDigest", http.StatusBadRequest, msg)
}
func errInvalidDigest() *Error {
	return s3err("InvalidDigest", http.StatusBadRequest, "The Content-MD5 or checksum value you specified is not valid.")
}
func errNotImplemented(msg string) *Error {
	return s3err("NotImplemented", http.StatusNotImplemented, msg)
}
func errMethodNotAllowed() *Error {
	return s3err("MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource.")
}
func errNoEncryptionConfig() *Error {
	return s3err("ServerSideEncryptionConfigurationNotFoundError", http.StatusNotFound, "The server side encryption configuration was not found")
}
func errInternal(cause error) *Error {
	return &Error{Code: "InternalError", Status: http.StatusInternalServerError, Message: "We encountered an internal error. Please try again.", Err: cause}
}
func errServiceUnavailable(cause error) *Error {
	return &Error{Code: "ServiceUnavailable", Status: http.StatusServiceUnavailable, Message: "The key management service is unavailable. Please try again.", Err: cause}
}

// errorDocument is S3's XML error body.
type errorDocument struct {
	XMLName        xml.Name `xml:"Error"`
	Code           string   `xml:"Code"`
	Message        string   `xml:"Message"`
	Resource       string   `xml:"Resource,omitempty"`
	MaxSizeAllowed int64    `xml:"MaxSizeAllowed,omitempty"`
	RequestID      string   `xml:"RequestId"`
}
