package admin

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/envkms/kms"
)

// generateDataKeyRequest is the kms/generate-data-key body. An empty key_id
// means the configured default_key_id; key_spec is AES_256 (the default).
type generateDataKeyRequest struct {
	KeyID             string            `json:"key_id"`
	KeySpec           string            `json:"key_spec"`
	EncryptionContext map[string]string `json:"encryption_context"`
}

func (c *call) generateDataKey() error {
	var req generateDataKeyRequest
	if _, err := c.decodeBody(&req, true); err != nil {
		return err
	}
	switch req.KeySpec {
	case "", "AES_256", "Aes256":
	default:
		return badRequest("key_spec must be AES_256")
	}
	// Resolve the default key here, so the key authorized is the key used.
	id := req.KeyID
	if id == "" {
		id = c.h.m.DefaultKeyID()
	}
	var err error
	if id == "" {
		err = c.authorize(ResourceAll) // the Manager refuses it next (400)
	} else {
		err = c.authorizeKey(id)
	}
	if err != nil {
		return err
	}
	dk, err := c.h.m.GenerateDataKey(c.ctx, id, kms.EncryptionContext(req.EncryptionContext))
	if err != nil {
		return err
	}
	defer dk.Zero()
	c.keyID = dk.KeyID
	c.writeSecret(dk.KeyID, "plaintext_key", dk.Plaintext, dk.Ciphertext)
	return nil
}

// decryptRequest is the kms/decrypt body. key_id, when given, must name the
// key the ciphertext was produced under.
type decryptRequest struct {
	CiphertextBlob    string            `json:"ciphertext_blob"`
	EncryptionContext map[string]string `json:"encryption_context"`
	KeyID             string            `json:"key_id"`
}

func (c *call) decrypt() error {
	var req decryptRequest
	if _, err := c.decodeBody(&req, true); err != nil {
		return err
	}
	if req.CiphertextBlob == "" {
		return badRequest("ciphertext_blob is required")
	}
	ct, err := base64.StdEncoding.DecodeString(req.CiphertextBlob)
	if err != nil {
		return badRequest("ciphertext_blob is not valid base64")
	}
	// With key_id, the call is authorized before anything is decrypted;
	// without, on the key the ciphertext names, before the plaintext is
	// returned.
	if req.KeyID != "" {
		if err := c.authorizeKey(req.KeyID); err != nil {
			return err
		}
	}
	dk, err := c.h.m.Decrypt(c.ctx, ct, kms.EncryptionContext(req.EncryptionContext))
	if err != nil {
		return err
	}
	defer dk.Zero()
	if req.KeyID != "" && req.KeyID != dk.KeyID {
		c.keyID = dk.KeyID
		return badRequest("ciphertext was not produced under key_id")
	}
	if req.KeyID == "" {
		if err := c.authorizeKey(dk.KeyID); err != nil {
			return err
		}
	}
	c.writeSecret(dk.KeyID, "plaintext", dk.Plaintext, nil)
	return nil
}

// writeSecret writes {"key_id":..., "<name>":base64(plaintext)[, "ciphertext_blob":...]}
// from a buffer it clears afterwards, so no copy of the plaintext outlives
// the call in memory this package owns.
func (c *call) writeSecret(keyID, name string, plaintext, ciphertext []byte) {
	id, _ := json.Marshal(keyID)
	buf := make([]byte, 0, 64+len(id)+base64.StdEncoding.EncodedLen(len(plaintext))+base64.StdEncoding.EncodedLen(len(ciphertext)))
	buf = append(buf, `{"key_id":`...)
	buf = append(buf, id...)
	buf = append(buf, `,"`...)
	buf = append(buf, name...)
	buf = append(buf, `":"`...)
	buf = base64.StdEncoding.AppendEncode(buf, plaintext)
	buf = append(buf, '"')
	if ciphertext != nil {
		buf = append(buf, `,"ciphertext_blob":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, ciphertext)
		buf = append(buf, '"')
	}
	buf = append(buf, '}')
	c.writeRaw(http.StatusOK, buf)
	clear(buf)
}
