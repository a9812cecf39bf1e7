package memory_test

import (
	"sync"
	"testing"
	"time"

	"github.com/envkms/kms/backend"
	"github.com/envkms/kms/backend/backendtest"
	"github.com/envkms/kms/backend/memory"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		b, err := memory.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	})
}

func TestConformanceWithClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		b, err := memory.New(memory.WithClock(clock))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}, backendtest.WithClock(advance))
}
