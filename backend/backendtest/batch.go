package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/envkms/kms/backend"
)

// testRewrapBatch checks backend.BatchRewrapper when b implements it:
// one result per item in order, per-item failures in their results, the
// successes under the newest version and still bound to their contexts.
func (s *suite) testRewrapBatch(t *testing.T) {
	ctx, b := s.setup(t)
	br, ok := b.(backend.BatchRewrapper)
	if !ok {
		t.Skip("not a backend.BatchRewrapper")
	}
	id1 := s.createKey(t, ctx, b, "batch1").KeyID
	id2 := s.createKey(t, ctx, b, "batch2").KeyID
	type obj struct {
		id string
		ec backend.EncryptionContext
		dk backend.DataKey
	}
	var objs []obj
	for i := range 6 {
		id := id1
		if i%3 == 2 {
			id = id2
		}
		ec := backend.EncryptionContext{"object": fmt.Sprintf("o%d", i)}
		if i == 0 {
			ec = nil
		}
		objs = append(objs, obj{id, ec, generate(t, ctx, b, id, ec)})
	}
	for _, id := range []string{id1, id2} {
		if _, err := b.RotateKey(ctx, id); err != nil {
			t.Fatalf("RotateKey: %v", err)
		}
	}

	if res, err := br.RewrapBatch(ctx, nil); err != nil || len(res) != 0 {
		t.Fatalf("RewrapBatch(empty) = %d results, %v", len(res), err)
	}

	var items []backend.RewrapItem
	for _, o := range objs {
		items = append(items, backend.RewrapItem{Ciphertext: o.dk.Ciphertext, Context: o.ec})
	}
	// Bad items between good ones fail alone.
	bad := map[int]bool{}
	items = append(items[:3], append([]backend.RewrapItem{
		{Ciphertext: objs[1].dk.Ciphertext, Context: backend.EncryptionContext{"object": "another"}},
		{Ciphertext: []byte("garbage"), Context: nil},
	}, items[3:]...)...)
	bad[3], bad[4] = true, true
	res, err := br.RewrapBatch(ctx, items)
	if err != nil {
		t.Fatalf("RewrapBatch: %v", err)
	}
	if len(res) != len(items) {
		t.Fatalf("RewrapBatch: %d results for %d items", len(res), len(items))
	}
	j := 0
	for i, r := range res {
		if bad[i] {
			if r.Err == nil {
				t.Fatalf("RewrapBatch item %d (bad): no error", i)
			}
			if !errors.Is(r.Err, backend.ErrContextMismatch) && !errors.Is(r.Err, backend.ErrInvalidCiphertext) && !errors.Is(r.Err, backend.ErrKeyNotFound) {
				t.Fatalf("RewrapBatch item %d (bad): %v", i, r.Err)
			}
			continue
		}
		o := objs[j]
		j++
		if r.Err != nil {
			t.Fatalf("RewrapBatch item %d: %v", i, r.Err)
		}
		if bytes.Equal(r.Ciphertext, o.dk.Ciphertext) || bytes.Contains(r.Ciphertext, o.dk.Plaintext) {
			t.Fatalf("RewrapBatch item %d: ciphertext unchanged or holding the plaintext", i)
		}
		checkVersion(t, b, r.Ciphertext, o.id, 2)
		mustDecrypt(t, ctx, b, r.Ciphertext, o.ec, o.dk.Plaintext)
		if len(o.ec) > 0 {
			for _, bc := range badContexts(o.ec) {
				_, err := b.Decrypt(ctx, r.Ciphertext, bc)
				wantErr(t, "Decrypt(batch-rewrapped, wrong context)", err, backend.ErrContextMismatch, backend.ErrInvalidCiphertext)
			}
		}
	}

	big := make([]backend.RewrapItem, backend.MaxRewrapBatch+1)
	for i := range big {
		big[i] = items[0]
	}
	_, err = br.RewrapBatch(ctx, big)
	wantErr(t, "RewrapBatch(MaxRewrapBatch+1 items)", err, backend.ErrBatchTooLarge)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := br.RewrapBatch(cctx, items[:1]); err == nil {
		t.Fatal("RewrapBatch with a canceled context: no error")
	}
}
