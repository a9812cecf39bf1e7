package vault

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/envkms/kms/backend"
)

// RewrapBatch rewraps many blobs (it implements backend.BatchRewrapper).
// As Rewrap, it is decrypt then encrypt, never transit/rewrap (which
// ignores associated_data): for each key named in the batch, one
// transit/decrypt and one transit/encrypt request with batch_input, every
// item carrying its own context as associated_data, so n blobs of one key
// cost two round trips instead of 2n. Plaintexts are zeroed before
// returning; request bodies holding them too.
//
// An item that cannot be parsed, whose context does not authenticate, or
// whose key is unknown, disabled or pending deletion fails in its own
// result, as Rewrap would fail it. If Vault refuses a key's whole batch
// with a 400, that key's items are rewrapped one by one, so each gets its
// own error. Vault unreachable, a closed Backend or a done ctx fail the
// whole call.
func (b *Backend) RewrapBatch(ctx context.Context, items []backend.RewrapItem) ([]backend.RewrapResult, error) {
	const op = "Rewrap"
	if err := backend.CheckRewrapBatch(items); err != nil {
		return nil, opError(op, "", err)
	}
	out := make([]backend.RewrapResult, len(items))
	type entry struct {
		i       int
		vaultCT string
	}
	groups := map[string][]entry{}
	var order []string
	for i, it := range items {
		keyID, vaultCT, _, err := parseBlob(it.Ciphertext)
		if err == nil {
			err = checkContext(it.Context)
		}
		if err != nil {
			out[i].Err = opError(op, keyID, err)
			continue
		}
		if _, ok := groups[keyID]; !ok {
			order = append(order, keyID)
		}
		groups[keyID] = append(groups[keyID], entry{i, vaultCT})
	}
	for _, keyID := range order {
		g := groups[keyID]
		idx := make([]int, len(g))
		cts := make([]string, len(g))
		for j, e := range g {
			idx[j], cts[j] = e.i, e.vaultCT
		}
		_, err := call(ctx, b, op, keyID, nil, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, b.rewrapGroup(ctx, keyID, idx, cts, items, out)
		})
		if err == nil {
			continue
		}
		var se *statusError
		switch {
		case isWholeFailure(ctx, err):
			return nil, err
		case errors.As(err, &se) && se.status == 400:
			// Vault refused the whole batch (every item failed, or a
			// request it could not parse): one by one, for per-item errors.
			for _, i := range idx {
				ct, err := b.Rewrap(ctx, items[i].Ciphertext, items[i].Context)
				if isWholeFailure(ctx, err) {
					return nil, err
				}
				out[i] = backend.RewrapResult{Ciphertext: ct, Err: err}
			}
		default: // the key's state: unknown, disabled, pending deletion
			for _, i := range idx {
				out[i] = backend.RewrapResult{Err: err}
			}
		}
	}
	return out, nil
}

func isWholeFailure(ctx context.Context, err error) bool {
	return err != nil && (errors.Is(err, backend.ErrUnavailable) || errors.Is(err, backend.ErrClosed) || ctx.Err() != nil)
}

// batchItemResult is one entry of transit's batch_results.
type batchItemResult struct {
	Plaintext  []byte `json:"plaintext"` // decrypt; decoded from base64 into bytes we zero
	Ciphertext string `json:"ciphertext"`
	Error      string `json:"error"`
}

type batchResponse struct {
	Data struct {
		BatchResults []batchItemResult `json:"batch_results"`
	} `json:"data"`
}

// rewrapGroup rewraps the items idx (transit ciphertexts cts) of keyID with
// one batched decrypt and one batched encrypt, filling out. It returns an
// error only for what fails the whole group.
func (b *Backend) rewrapGroup(ctx context.Context, keyID string, idx []int, cts []string, items []backend.RewrapItem, out []backend.RewrapResult) error {
	if err := b.checkUsable(ctx, keyID, true); err != nil {
		return err
	}
	enc := base64.StdEncoding
	// transit/decrypt, batch_input of {ciphertext, associated_data}.
	body := []byte(`{"partial_failure_response_code":200,"batch_input":[`)
	for j, ct := range cts {
		if j > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"ciphertext":"`...)
		body = append(body, ct...)
		body = append(body, `","associated_data":"`...)
		body = enc.AppendEncode(body, items[idx[j]].Context.Canonical())
		body = append(body, `"}`...)
	}
	body = append(body, `]}`...)
	var dec batchResponse
	defer func() {
		for _, r := range dec.Data.BatchResults {
			clear(r.Plaintext)
		}
	}()
	if err := b.writeRaw(ctx, b.cfg.MountPath+"/decrypt/"+keyID, body, &dec); err != nil {
		return err
	}
	if len(dec.Data.BatchResults) != len(cts) {
		return fmt.Errorf("%w: vault transit/decrypt answered %d batch results for %d items", backend.ErrUnavailable, len(dec.Data.BatchResults), len(cts))
	}
	// transit/encrypt of the plaintexts that decrypted.
	var ok []int // positions j in the group
	plain := []byte(`{"partial_failure_response_code":200,"batch_input":[`)
	defer func() { clear(plain) }()
	for j, r := range dec.Data.BatchResults {
		i := idx[j]
		switch {
		case r.Error != "":
			out[i].Err = opError("Rewrap", keyID, b.itemError("decrypt", r.Error))
			continue
		case len(r.Plaintext) != backend.DataKeySize:
			out[i].Err = opError("Rewrap", keyID, fmt.Errorf("%w: vault blob does not hold a %d-byte data key", backend.ErrInvalidCiphertext, backend.DataKeySize))
			continue
		}
		if len(ok) > 0 {
			plain = append(plain, ',')
		}
		ok = append(ok, j)
		plain = append(plain, `{"plaintext":"`...)
		plain = enc.AppendEncode(plain, r.Plaintext)
		plain = append(plain, `","associated_data":"`...)
		plain = enc.AppendEncode(plain, items[i].Context.Canonical())
		plain = append(plain, `"}`...)
	}
	plain = append(plain, `]}`...)
	if len(ok) == 0 {
		return nil
	}
	var encResp batchResponse
	if err := b.writeRaw(ctx, b.cfg.MountPath+"/encrypt/"+keyID, plain, &encResp); err != nil {
		return err
	}
	if len(encResp.Data.BatchResults) != len(ok) {
		return fmt.Errorf("%w: vault transit/encrypt answered %d batch results for %d items", backend.ErrUnavailable, len(encResp.Data.BatchResults), len(ok))
	}
	for k, r := range encResp.Data.BatchResults {
		i := idx[ok[k]]
		if r.Error != "" {
			out[i].Err = opError("Rewrap", keyID, b.itemError("encrypt", r.Error))
			continue
		}
		version, err := parseVaultCiphertext(r.Ciphertext)
		if err != nil {
			return fmt.Errorf("%w: vault transit/encrypt answered an unexpected ciphertext (is %q an aes256-gcm96 key?)", backend.ErrUnavailable, keyID)
		}
		b.wraps.add(keyID, version, 1)
		out[i].Ciphertext = formatBlob(keyID, r.Ciphertext)
	}
	return nil
}

// itemError classifies one batch item's error string.
func (b *Backend) itemError(what, msg string) error {
	kind := backend.ErrInvalidCiphertext
	if strings.Contains(msg, "not found") {
		kind = backend.ErrKeyNotFound
	}
	return fmt.Errorf("%w: vault transit/%s batch item: %s", kind, what, scrub(msg, b.auth.secrets(), maxVaultMsg))
}

var (
	_ backend.BatchRewrapper      = (*Backend)(nil)
	_ backend.CiphertextVersioner = (*Backend)(nil)
)
