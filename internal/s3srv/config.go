package s3srv

import (
	"errors"
	"go.opentelemetry.io/otel/metric"
	"log/slog"
	"time"

	"github.com/envkms/kms"
	"github.com/envkms/kms/sse"
)

// Config configures a Server.
type Config struct {
	// DataDir holds buckets, objects and the KMS key directory. Required.
	DataDir string

	// AccessKey and SecretKey, when both set, make every S3 and admin
	// request require an AWS Signature Version 4 for them. When both are
	// empty the server accepts anonymous requests (and logs a warning).
	AccessKey string
	SecretKey string

	// UserAccessKey and UserSecretKey, when both set (AccessKey must be
	// set too), are a second credential that is not an admin. It may
	// make every S3 request the admin may; on the admin API it holds
	// UserRole of admin's built-in role policy while AccessKey holds
	// admin.RoleAdministrator (so, with the default key-user role, it may
	// generate data keys, decrypt and describe keys, and gets 403 on
	// configure, key management, listing and the rest).
	UserAccessKey string
	UserSecretKey string

	// UserRole is UserAccessKey's admin role: admin.RoleKeyUser (the
	// default), admin.RoleAuditor or admin.RoleKeyAdministrator.
	UserRole string

	// AllowInsecureSSEC accepts SSE-C customer keys on plain-HTTP
	// connections. For loopback testing only: the key travels in clear.
	AllowInsecureSSEC bool

	// DisableEncryption stores objects in plaintext and refuses SSE
	// headers. It exists only to measure the cost of encryption in the
	// benchmark; never use it to serve data: nothing on disk is then
	// encrypted or authenticated, so whoever can write the data directory
	// can replace any object's bytes and metadata (see the package doc).
	// A data directory written so cannot be served with encryption on: its
	// objects have no sse metadata and are refused as tampered.
	DisableEncryption bool

	// Region is the SigV4 signing region clients use (default "us-east-1";
	// the verifier accepts any region in the credential scope).
	Region string

	// Concurrency is the number of goroutines that encrypt or decrypt the
	// segments of one object (default 2).
	Concurrency int

	// WrapKeyManager, if set, wraps the KMS Manager as sse sees it: for
	// instrumentation and tests (e.g. recording which data keys were
	// issued). It must keep the KeyManager contract.
	WrapKeyManager func(sse.KeyManager) sse.KeyManager

	// BodyReadTimeout is how long one read of a request body may wait for
	// data (default DefaultBodyReadTimeout; negative: no limit). A client
	// that stops sending gets 400 RequestTimeout instead of holding its
	// connection and buffers; there is no limit on the whole upload.
	BodyReadTimeout time.Duration

	// ResponseWriteTimeout is how long one write of a response body may
	// block on a client that does not read (default
	// DefaultResponseWriteTimeout; negative: no limit); then the
	// connection is dropped. There is no limit on the whole download.
	ResponseWriteTimeout time.Duration

	// KMS, if set, is the KMS configuration (for example a Vault backend)
	// instead of the local key directory under DataDir; its DefaultKeyID
	// (DefaultKeyID if empty) is created if missing.
	KMS *kms.Config

	// Logger receives request and startup logs (default slog.Default()).
	Logger *slog.Logger

	// MeterProvider receives the KMS Manager's OpenTelemetry metrics
	// (kms.WithMeterProvider) and the encryptor's bucket-key metrics
	// (sse.WithMeterProvider); nil: none.
	MeterProvider metric.MeterProvider
}

// ErrConfig is wrapped by New's errors about an invalid Config.
var ErrConfig = errors.New("s3srv: invalid configuration")

func (c *Config) validate() error {
	switch {
	case c.DataDir == "":
		return errors.Join(ErrConfig, errors.New("DataDir is required"))
	case (c.AccessKey == "") != (c.SecretKey == ""):
		return errors.Join(ErrConfig, errors.New("set both AccessKey and SecretKey, or neither"))
	}
	if err := c.validateUser(); err != nil {
		return err
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.BodyReadTimeout == 0 {
		c.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if c.ResponseWriteTimeout == 0 {
		c.ResponseWriteTimeout = DefaultResponseWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
