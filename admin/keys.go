package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/envkms/kms"
)

// Key listing bounds.
const maxListLimit = 1000

// Default deletion window when pending_window_in_days is absent, in days.
const defaultPendingDays = 7

// keyMetadata is the JSON form of kms.KeyMetadata in responses.
type keyMetadata struct {
	KeyID           string            `json:"key_id"`
	Description     string            `json:"description"`
	Enabled         bool              `json:"enabled"`
	KeyState        kms.KeyState      `json:"key_state"`
	KeyUsage        string            `json:"key_usage"`
	CreationDate    time.Time         `json:"creation_date"`
	DeletionDate    *time.Time        `json:"deletion_date"`
	RotationEnabled bool              `json:"rotation_enabled"`
	Version         int               `json:"version"`
	Tags            map[string]string `json:"tags,omitempty"`
}

func toKeyMetadata(m kms.KeyMetadata) keyMetadata {
	usage := m.KeyUsage
	if usage == "" {
		usage = keyUsageEncryptDecrypt
	}
	return keyMetadata{
		KeyID:        m.KeyID,
		Description:  m.Description,
		Enabled:      m.State == kms.KeyStateEnabled,
		KeyState:     m.State,
		KeyUsage:     usage,
		CreationDate: m.CreationDate,
		DeletionDate: m.DeletionDate,
		Version:      m.Version,
		Tags:         m.Tags,
	}
}

// keyResponse answers key calls that return one key.
type keyResponse struct {
	KeyID       string      `json:"key_id,omitempty"`
	KeyMetadata keyMetadata `json:"key_metadata"`
}

const keyUsageEncryptDecrypt = "ENCRYPT_DECRYPT"

// createKeyRequest is the kms/keys body. The reference API's names are
// PascalCase (KeyUsage, Description, Tags); the snake_case names of newer
// clients are accepted too, and KeyId / key_id choose the key id (default: a
// generated UUID). Giving the same field twice is an error: in two
// spellings (KeyId and key_id), or in one spelling twice, in any case
// (decodeStrict refuses those).
type createKeyRequest struct {
	KeyUsage    *string           `json:"KeyUsage"`
	Description *string           `json:"Description"`
	Tags        map[string]string `json:"Tags"`
	KeyID       *string           `json:"KeyId"`

	KeyUsageSnake    *string           `json:"key_usage"`
	DescriptionSnake *string           `json:"description"`
	TagsSnake        map[string]string `json:"tags"`
	KeyIDSnake       *string           `json:"key_id"`
}

func pick[T any](a, b *T, field string) (*T, error) {
	if a != nil && b != nil {
		return nil, badRequest("field " + field + " given twice")
	}
	if a != nil {
		return a, nil
	}
	return b, nil
}

func (c *call) createKey() error {
	var req createKeyRequest
	if _, err := c.decodeBody(&req, false); err != nil {
		return err
	}
	usage, err := pick(req.KeyUsage, req.KeyUsageSnake, "KeyUsage")
	if err != nil {
		return err
	}
	desc, err := pick(req.Description, req.DescriptionSnake, "Description")
	if err != nil {
		return err
	}
	id, err := pick(req.KeyID, req.KeyIDSnake, "KeyId")
	if err != nil {
		return err
	}
	if req.Tags != nil && req.TagsSnake != nil {
		return badRequest("field Tags given twice")
	}
	tags := req.Tags
	if tags == nil {
		tags = req.TagsSnake
	}
	cr := kms.CreateKeyRequest{KeyUsage: keyUsageEncryptDecrypt, Tags: tags}
	if usage != nil {
		switch *usage {
		case "", keyUsageEncryptDecrypt, "EncryptDecrypt":
		default:
			return badRequest("KeyUsage must be ENCRYPT_DECRYPT")
		}
	}
	if desc != nil {
		cr.Description = *desc
	}
	if id != nil {
		if *id == "" {
			return badRequest("KeyId must not be empty")
		}
		cr.KeyID = *id
		c.keyID = *id
	}
	md, err := c.h.m.CreateKey(c.ctx, cr)
	if err != nil {
		return err
	}
	c.keyID = md.KeyID
	return c.writeJSON(http.StatusOK, keyResponse{KeyID: md.KeyID, KeyMetadata: toKeyMetadata(md)})
}

// listEntry is one key in the kms/keys listing.
type listEntry struct {
	KeyID       string       `json:"key_id"`
	Description string       `json:"description"`
	Enabled     bool         `json:"enabled"`
	KeyState    kms.KeyState `json:"key_state"`
}

type listResponse struct {
	Keys       []listEntry `json:"keys"`
	Truncated  bool        `json:"truncated"`
	NextMarker *string     `json:"next_marker"`
}

// queryValue returns query parameter name ("" when absent), refusing it given
// twice: url.Values.Get would take the first silently.
func queryValue(q url.Values, name string) (string, error) {
	switch vs := q[name]; len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", badRequest("query parameter " + quoteField(name) + " given twice")
}

func (c *call) listKeys() error {
	q := c.r.URL.Query()
	marker, err := queryValue(q, "marker")
	if err != nil {
		return err
	}
	limit, err := queryValue(q, "limit")
	if err != nil {
		return err
	}
	req := kms.ListKeysRequest{Marker: marker}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 0 {
			return badRequest("limit must be a non-negative integer")
		}
		req.Limit = min(n, maxListLimit)
	}
	res, err := c.h.m.ListKeys(c.ctx, req)
	if err != nil {
		return err
	}
	out := listResponse{Keys: make([]listEntry, 0, len(res.Keys)), Truncated: res.Truncated}
	for _, k := range res.Keys {
		out.Keys = append(out.Keys, listEntry{KeyID: k.KeyID, Description: k.Description, Enabled: k.State == kms.KeyStateEnabled, KeyState: k.State})
	}
	if res.Truncated && res.NextMarker != "" {
		out.NextMarker = &res.NextMarker
	}
	return c.writeJSON(http.StatusOK, out)
}

func (c *call) describeKey() error {
	md, err := c.h.m.DescribeKey(c.ctx, c.keyID)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, struct {
		KeyMetadata keyMetadata `json:"key_metadata"`
	}{toKeyMetadata(md)})
}

// keyIDRequest is the body of cancel-deletion (and the base of delete).
type keyIDRequest struct {
	KeyID string `json:"key_id"`
}

type deleteRequest struct {
	KeyID               string `json:"key_id"`
	PendingWindowInDays *int   `json:"pending_window_in_days"`
}

type deleteResponse struct {
	KeyID               string      `json:"key_id"`
	DeletionDate        *time.Time  `json:"deletion_date"`
	PendingWindowInDays int         `json:"pending_window_in_days"`
	KeyMetadata         keyMetadata `json:"key_metadata"`
}

// scheduleDeletion takes the key from the JSON body or, with an empty body,
// from the keyId (or key_id) and pending_window_in_days query parameters. As
// in the body, a parameter given twice (or as both keyId and key_id) is an
// error, and so are parameters beside a body: which one would win is not
// for a destructive call to guess.
func (c *call) scheduleDeletion() error {
	var req deleteRequest
	present, err := c.decodeBody(&req, false)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	named := q.Has("keyId") || q.Has("key_id") || q.Has("pending_window_in_days")
	switch {
	case present && named:
		return badRequest("give key_id and pending_window_in_days in the body or in the query, not in both")
	case !present:
		if q.Has("keyId") && q.Has("key_id") {
			return badRequest("query parameter key_id given twice (as keyId and key_id)")
		}
		name := "keyId"
		if !q.Has(name) {
			name = "key_id"
		}
		if req.KeyID, err = queryValue(q, name); err != nil {
			return err
		}
		s, err := queryValue(q, "pending_window_in_days")
		if err != nil {
			return err
		}
		if s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return badRequest("pending_window_in_days must be an integer")
			}
			req.PendingWindowInDays = &n
		}
	}
	if req.KeyID == "" {
		return badRequest("key_id is required")
	}
	c.keyID = req.KeyID
	days := defaultPendingDays
	if req.PendingWindowInDays != nil {
		days = *req.PendingWindowInDays
	}
	md, err := c.h.m.ScheduleKeyDeletion(c.ctx, req.KeyID, days)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, deleteResponse{
		KeyID: md.KeyID, DeletionDate: md.DeletionDate, PendingWindowInDays: days, KeyMetadata: toKeyMetadata(md),
	})
}

func (c *call) cancelDeletion() error {
	var req keyIDRequest
	if _, err := c.decodeBody(&req, true); err != nil {
		return err
	}
	if req.KeyID == "" {
		return badRequest("key_id is required")
	}
	c.keyID = req.KeyID
	md, err := c.h.m.CancelKeyDeletion(c.ctx, req.KeyID)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, keyResponse{KeyID: md.KeyID, KeyMetadata: toKeyMetadata(md)})
}

func (c *call) enableKey() error  { return c.setKeyState(c.h.m.EnableKey) }
func (c *call) disableKey() error { return c.setKeyState(c.h.m.DisableKey) }

func (c *call) setKeyState(fn func(ctx context.Context, keyID string) error) error {
	if _, err := c.decodeBody(&struct{}{}, false); err != nil {
		return err
	}
	if err := fn(c.ctx, c.keyID); err != nil {
		return err
	}
	return c.respondKey(c.keyID)
}

func (c *call) rotateKey() error {
	if _, err := c.decodeBody(&struct{}{}, false); err != nil {
		return err
	}
	md, err := c.h.m.RotateKey(c.ctx, c.keyID)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, keyResponse{KeyID: md.KeyID, KeyMetadata: toKeyMetadata(md)})
}

func (c *call) respondKey(keyID string) error {
	md, err := c.h.m.DescribeKey(c.ctx, keyID)
	if err != nil {
		return err
	}
	return c.writeJSON(http.StatusOK, keyResponse{KeyID: md.KeyID, KeyMetadata: toKeyMetadata(md)})
}
