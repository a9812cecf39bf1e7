// Command s3server is a small S3-compatible server (path-style) that stores
// objects as files and encrypts every object with package sse: SSE-S3,
// SSE-KMS and SSE-C, with master keys in a local key directory under the
// data directory. It also serves the KMS admin API under /admin/v3/.
//
// Usage:
//
//	go run ./examples/s3server -addr 127.0.0.1:9000 -data DIR [-access-key AK -secret-key SK [-user-access-key UAK -user-secret-key USK [-user-role ROLE]]] [-tls-cert FILE -tls-key FILE] [-allow-insecure-ssec] [-max-conns N]
//
// With -access-key and -secret-key every S3 and admin request must be signed
// (AWS Signature Version 4) with them; without, requests are anonymous. The
// secret key may come from the environment variable S3SERVER_SECRET_KEY
// instead of the command line.
// -user-access-key and -user-secret-key (or S3SERVER_USER_SECRET_KEY) add a
// second credential that is not an admin: it may make S3 requests, and on
// the admin API it holds -user-role of the built-in role policy (key-user by
// default: generate-data-key, decrypt, describe; or auditor: list,
// describe), while -access-key is the administrator.
// -tls-cert and -tls-key (PEM files, both or neither) make it serve HTTPS
// (TLS 1.2 and later), over which SSE-C customer keys are accepted.
// -allow-insecure-ssec accepts SSE-C keys over plain HTTP (local testing
// only). The local master secret is generated into DIR/.kms/master.key (mode
// 0600) on first start: fine for an example, not for production.
//
// The server locks DIR: a second server on the same -data refuses to start.
// It serves at most -max-conns connections at once (default 1024; further
// ones wait to be accepted); its other resource limits are described in
// package internal/s3srv and in README.md.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/envkms/kms/internal/s3srv"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("s3server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9000", "listen address")
	data := fs.String("data", "", "data directory (required)")
	ak := fs.String("access-key", "", "access key required in SigV4 signatures (with -secret-key)")
	sk := fs.String("secret-key", "", "secret key of -access-key (or set S3SERVER_SECRET_KEY, which keeps it out of the process list)")
	uak := fs.String("user-access-key", "", "a second, non-admin credential (with -user-secret-key; needs -access-key)")
	usk := fs.String("user-secret-key", "", "secret key of -user-access-key (or set S3SERVER_USER_SECRET_KEY)")
	urole := fs.String("user-role", "", "admin API role of -user-access-key: key-user (default), auditor or key-administrator")
	insecure := fs.Bool("allow-insecure-ssec", false, "accept SSE-C customer keys over plain HTTP (testing only)")
	maxConns := fs.Int("max-conns", s3srv.DefaultMaxConns, "connections served at once (further ones wait to be accepted)")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "listen address of GET /metrics (Prometheus text format); empty: off")
	tlsCert := fs.String("tls-cert", "", "PEM certificate (chain) file: serve HTTPS (with -tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key file of -tls-cert")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		fs.Usage()
		return errors.New("-data is required")
	}
	if *maxConns < 1 {
		return errors.New("-max-conns must be at least 1")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	var tlsConfig *tls.Config
	if *tlsCert != "" {
		// Loaded before anything starts, so a bad pair fails at once.
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if *sk == "" {
		*sk = os.Getenv("S3SERVER_SECRET_KEY")
	}
	if *usk == "" {
		*usk = os.Getenv("S3SERVER_USER_SECRET_KEY")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	mp, metricsHandler, err := newMetrics()
	if err != nil {
		return err
	}
	defer func() { _ = mp.Shutdown(context.Background()) }()
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("-metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsHandler)
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ms.Serve(mln) }()
		defer ms.Close()
		log.Info("s3server: metrics", "addr", mln.Addr().String(), "path", "/metrics")
	}

	srv, err := s3srv.New(ctx, s3srv.Config{
		DataDir: *data, AccessKey: *ak, SecretKey: *sk,
		UserAccessKey: *uak, UserSecretKey: *usk, UserRole: *urole,
		AllowInsecureSSEC: *insecure, Logger: log,
		MeterProvider: mp,
	})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(cctx)
	}()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	ln = s3srv.LimitListener(ln, *maxConns)
	hs := s3srv.NewHTTPServer(srv, slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	if *insecure {
		log.Warn("s3server: -allow-insecure-ssec: SSE-C customer keys are accepted over plain HTTP")
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
		hs.TLSConfig = tlsConfig
	}
	log.Info("s3server: listening", "addr", ln.Addr().String(), "scheme", scheme, "data", *data, "admin", s3srv.AdminPrefix, "max_conns", *maxConns)
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			// The certificate is in hs.TLSConfig; requests then have
			// r.TLS set, so SSE-C is accepted without -allow-insecure-ssec.
			errc <- hs.ServeTLS(ln, "", "")
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}
