package admin

import (
	"log/slog"
	"net/http"
	"time"
)

// maxLoggedKeyID bounds a key id taken from the request in the audit log.
const maxLoggedKeyID = 128

// audit writes the call's audit record: who, what, which key, the outcome.
// It never logs request or response bodies.
func (c *call) audit(start time.Time) {
	status := c.status
	if status == 0 {
		status = http.StatusOK
	}
	outcome, level := "success", slog.LevelInfo
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		outcome, level = "denied", slog.LevelWarn
	case status >= 500:
		outcome, level = "error", slog.LevelError
	case status >= 400:
		outcome, level = "failure", slog.LevelWarn
	}
	principal := c.principal.AccessKey
	if principal == "" {
		principal = "-"
	}
	keyID := c.keyID
	if len(keyID) > maxLoggedKeyID {
		keyID = keyID[:maxLoggedKeyID] + "..."
	}
	attrs := []slog.Attr{
		slog.String("principal", principal),
		slog.String("action", string(c.action)),
		slog.String("operation", c.op),
		slog.String("key_id", keyID),
		slog.String("outcome", outcome),
		slog.Int("status", status),
		slog.String("method", c.r.Method),
		slog.String("remote_addr", c.r.RemoteAddr),
		slog.Duration("duration", time.Since(start)),
	}
	if c.resource != "" {
		r := c.resource
		if len(r) > maxLoggedKeyID+len(keyResourcePrefix) {
			r = r[:maxLoggedKeyID+len(keyResourcePrefix)] + "..."
		}
		attrs = append(attrs, slog.String("resource", r))
	}
	if c.reason != "" {
		attrs = append(attrs, slog.String("reason", c.reason))
	}
	c.h.logger.LogAttrs(c.ctx, level, "kms admin call", attrs...)
}
