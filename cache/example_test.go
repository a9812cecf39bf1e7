package cache_test

import (
	"fmt"
	"time"

	"github.com/envkms/kms/cache"
)

func Example() {
	c, err := cache.NewBytes(cache.Config{MaxEntries: 1000, TTL: 5 * time.Minute})
	if err != nil {
		panic(err)
	}
	// Key the unwrapped data key by what the caller already has: the wrapped
	// ciphertext and the canonical encryption context. Never by plaintext.
	wrapped := []byte("...wrapped data key...")
	ec := []byte(`{"bucket":"photos"}`)
	k := cache.KeyFor(wrapped, ec)

	if _, ok := c.Get(k); !ok {
		plaintext := make([]byte, 32) // from the backend's Decrypt
		c.Put(k, plaintext)           // the cache stores its own copy
		clear(plaintext)
	}
	dataKey, ok := c.Get(k) // a fresh copy the caller owns and should clear
	fmt.Println(ok, len(dataKey))
	clear(dataKey)

	c.Clear() // wipes every cached secret
	s := c.Stats()
	fmt.Printf("hits=%d misses=%d size=%d\n", s.Hits, s.Misses, s.Size)
	// Output:
	// true 32
	// hits=1 misses=1 size=0
}
