package admin

import (
	"github.com/envkms/kms"
)

// serviceResponse answers configure, reconfigure, start and stop.
type serviceResponse struct {
	Success bool      `json:"success"`
	Message string    `json:"message"`
	Status  kms.State `json:"status"`
}

func (c *call) serviceOK(msg string) error {
	st := c.h.m.Status(c.ctx)
	return c.writeJSON(200, serviceResponse{Success: true, Message: msg, Status: st.State})
}

func (c *call) configure() error {
	var cfg kms.Config
	if _, err := c.decodeBody(&cfg, true); err != nil {
		return err
	}
	if err := c.h.m.Configure(c.ctx, cfg); err != nil {
		return err
	}
	return c.serviceOK("KMS configured successfully")
}

func (c *call) reconfigure() error {
	var p kms.ConfigPatch
	if _, err := c.decodeBody(&p, true); err != nil {
		return err
	}
	if err := c.h.m.Reconfigure(c.ctx, p); err != nil {
		return err
	}
	return c.serviceOK("KMS reconfigured successfully")
}

// startRequest is the optional body of kms/start: force restarts a running
// Manager (stop, then start).
type startRequest struct {
	Force bool `json:"force"`
}

func (c *call) start() error {
	var req startRequest
	if _, err := c.decodeBody(&req, false); err != nil {
		return err
	}
	msg := "KMS service started successfully"
	if req.Force && c.h.m.Status(c.ctx).State == kms.StateRunning {
		if err := c.h.m.Stop(c.ctx); err != nil {
			return err
		}
		msg = "KMS service restarted successfully"
	}
	if err := c.h.m.Start(c.ctx); err != nil {
		return err
	}
	return c.serviceOK(msg)
}

func (c *call) stop() error {
	if _, err := c.decodeBody(&struct{}{}, false); err != nil {
		return err
	}
	if err := c.h.m.Stop(c.ctx); err != nil {
		return err
	}
	return c.serviceOK("KMS service stopped successfully")
}

// getStatus serves kms.Status, whose JSON never contains secrets.
func (c *call) getStatus() error {
	return c.writeJSON(200, c.h.m.Status(c.ctx))
}

// configResponse is the GET kms/config body.
type configResponse struct {
	Backend         kms.BackendType `json:"backend"`
	CacheEnabled    bool            `json:"cache_enabled"`
	CacheMaxKeys    int             `json:"cache_max_keys"`
	CacheTTLSeconds int             `json:"cache_ttl_seconds"`
	DefaultKeyID    string          `json:"default_key_id"`
}

func (c *call) getConfig() error {
	cfg, ok := c.h.m.Config()
	if !ok {
		return kms.ErrNotConfigured
	}
	return c.writeJSON(200, configResponse{
		Backend:         cfg.BackendType,
		CacheEnabled:    cfg.Summary().EnableCache,
		CacheMaxKeys:    cfg.MaxCachedKeys,
		CacheTTLSeconds: cfg.CacheTTLSeconds,
		DefaultKeyID:    cfg.DefaultKeyID,
	})
}

func (c *call) clearCache() error {
	if _, err := c.decodeBody(&struct{}{}, false); err != nil {
		return err
	}
	c.h.m.ClearCache()
	return c.noContent()
}
