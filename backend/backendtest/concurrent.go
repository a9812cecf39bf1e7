package backendtest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/envkms/kms/backend"
)

func (s *suite) testConcurrent(t *testing.T) {
	ctx, b := s.setup(t)
	id := s.createKey(t, ctx, b, "concurrent").KeyID
	const workers, iters, rotations = 8, 12, 4

	var wg sync.WaitGroup
	errc := make(chan error, workers+2)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				ec := backend.EncryptionContext{"worker": fmt.Sprint(w), "i": fmt.Sprint(i)}
				dk, err := b.GenerateDataKey(ctx, id, ec)
				if err != nil {
					errc <- fmt.Errorf("generate data key: %w", err)
					return
				}
				ct := dk.Ciphertext
				if i%3 == 0 {
					if ct, err = b.Rewrap(ctx, ct, ec); err != nil {
						errc <- fmt.Errorf("rewrap: %w", err)
						return
					}
				}
				got, err := b.Decrypt(ctx, ct, ec)
				if err != nil {
					errc <- fmt.Errorf("decrypt: %w", err)
					return
				}
				if !bytes.Equal(got.Plaintext, dk.Plaintext) {
					errc <- errors.New("decrypt returned another key's plaintext")
					return
				}
			}
		}(w)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < rotations; i++ {
			if _, err := b.RotateKey(ctx, id); err != nil {
				errc <- fmt.Errorf("rotate: %w", err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < rotations; i++ {
			if _, err := b.DescribeKey(ctx, id); err != nil {
				errc <- fmt.Errorf("describe: %w", err)
				return
			}
			if _, err := b.ListKeys(ctx, backend.ListKeysRequest{Limit: 5, Marker: s.prefix}); err != nil {
				errc <- fmt.Errorf("list: %w", err)
				return
			}
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if md := describe(t, ctx, b, id); md.Version != 1+rotations {
		t.Fatalf("Version after %d concurrent rotations = %d", rotations, md.Version)
	}
}
