package cache

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func key(i int) Key { return KeyFor([]byte(fmt.Sprint("ct", i)), []byte("{}")) }

func val(i int) []byte { return bytes.Repeat([]byte{byte(i%255 + 1)}, 32) }

func newBytes(t testing.TB, max int, ttl time.Duration, clk *fakeClock) *Cache[[]byte] {
	t.Helper()
	c, err := NewBytes(Config{MaxEntries: max, TTL: ttl, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{MaxEntries: 0, TTL: time.Second}, "MaxEntries"},
		{Config{MaxEntries: -1, TTL: time.Second}, "MaxEntries"},
		{Config{MaxEntries: 1, TTL: 0}, "TTL"},
		{Config{MaxEntries: 1, TTL: -time.Second}, "TTL"},
	} {
		_, err := NewBytes(tc.cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewBytes(%+v) = %v, want *ConfigError for %s", tc.cfg, err, tc.field)
		}
	}
	if _, err := NewBytes(Config{MaxEntries: 1, TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
}

func TestKeyForUnambiguous(t *testing.T) {
	pairs := [][2]string{{"ab", "c"}, {"a", "bc"}, {"abc", ""}, {"", "abc"}, {"", ""}}
	seen := map[Key]int{}
	for i, p := range pairs {
		k := KeyFor([]byte(p[0]), []byte(p[1]))
		if j, dup := seen[k]; dup {
			t.Fatalf("KeyFor(%q) == KeyFor(%q)", pairs[i], pairs[j])
		}
		seen[k] = i
		if KeyFor([]byte(p[0]), []byte(p[1])) != k {
			t.Fatal("KeyFor not deterministic")
		}
	}
	var raw [32]byte = KeyFor(nil, nil) // assignable to a plain array
	_ = raw
}

func TestGetPutCopies(t *testing.T) {
	c := newBytes(t, 4, time.Minute, newFakeClock())
	in := val(1)
	c.Put(key(1), in)
	in[0] = 0xEE // caller's slice is not the cache's
	got, ok := c.Get(key(1))
	if !ok || !bytes.Equal(got, val(1)) {
		t.Fatalf("Get = %x, %v", got, ok)
	}
	got[0] = 0xEE // nor is the returned one
	again, _ := c.Get(key(1))
	if !bytes.Equal(again, val(1)) {
		t.Fatal("returned slice aliases the cache's copy")
	}
	if _, ok := c.Get(key(2)); ok {
		t.Fatal("hit on absent key")
	}
	if s := c.Stats(); s.Hits != 2 || s.Misses != 1 || s.Size != 1 {
		t.Fatalf("Stats = %+v", s)
	}
}

// stored returns the cache's own slice for k (what must be wiped later).
func stored(t *testing.T, c *Cache[[]byte], k Key) []byte {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		t.Fatal("entry missing")
	}
	return e.val
}

func TestSecretsWipedWhenLeaving(t *testing.T) {
	cases := []struct {
		name  string
		leave func(c *Cache[[]byte], clk *fakeClock)
	}{
		{"evicted", func(c *Cache[[]byte], _ *fakeClock) { c.Put(key(2), val(2)); c.Put(key(3), val(3)) }},
		{"expired-get", func(c *Cache[[]byte], clk *fakeClock) { clk.Advance(time.Minute); c.Get(key(1)) }},
		{"expired-sweep", func(c *Cache[[]byte], clk *fakeClock) { clk.Advance(time.Minute); c.Sweep() }},
		{"expired-put", func(c *Cache[[]byte], clk *fakeClock) { clk.Advance(2 * time.Minute); c.Put(key(9), val(9)) }},
		{"removed", func(c *Cache[[]byte], _ *fakeClock) { c.Remove(key(1)) }},
		{"cleared", func(c *Cache[[]byte], _ *fakeClock) { c.Clear() }},
		{"overwritten", func(c *Cache[[]byte], _ *fakeClock) { c.Put(key(1), val(7)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			c := newBytes(t, 2, time.Minute, clk)
			c.Put(key(1), val(1))
			own := stored(t, c, key(1))
			if isZero(own) {
				t.Fatal("stored value is zero before leaving")
			}
			tc.leave(c, clk)
			if !isZero(own) {
				t.Fatalf("cache copy not wiped: %x", own)
			}
		})
	}
}

func TestLRUOrder(t *testing.T) {
	c := newBytes(t, 3, time.Hour, newFakeClock())
	c.Put(key(1), val(1))
	c.Put(key(2), val(2))
	c.Put(key(3), val(3))
	c.Get(key(1))         // 1 is now most recent; 2 is least
	c.Put(key(4), val(4)) // evicts 2
	if _, ok := c.Get(key(2)); ok {
		t.Fatal("LRU entry not evicted")
	}
	for _, i := range []int{1, 3, 4} {
		if _, ok := c.Get(key(i)); !ok {
			t.Fatalf("entry %d evicted", i)
		}
	}
	if s := c.Stats(); s.Evictions != 1 || s.Size != 3 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestTTL(t *testing.T) {
	clk := newFakeClock()
	c := newBytes(t, 10, time.Minute, clk)
	c.Put(key(1), val(1))
	clk.Advance(30 * time.Second)
	c.Put(key(2), val(2))
	if _, ok := c.Get(key(1)); !ok { // reads do not extend the TTL
		t.Fatal("entry expired early")
	}
	clk.Advance(30 * time.Second)
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("entry outlived its TTL")
	}
	if _, ok := c.Get(key(2)); !ok {
		t.Fatal("younger entry expired")
	}
	c.Put(key(2), val(3)) // overwrite restarts the TTL
	clk.Advance(45 * time.Second)
	if got, ok := c.Get(key(2)); !ok || !bytes.Equal(got, val(3)) {
		t.Fatal("overwritten entry lost")
	}
	clk.Advance(15 * time.Second)
	if n := c.Sweep(); n != 1 || c.Len() != 0 {
		t.Fatalf("Sweep = %d, Len = %d", n, c.Len())
	}
	if s := c.Stats(); s.Expired != 2 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestGenericValues(t *testing.T) {
	type secret struct {
		id  string
		key []byte
	}
	var zeroed []string
	c, err := New(Config{MaxEntries: 1, TTL: time.Minute},
		func(s secret) secret { return secret{s.id, bytes.Clone(s.key)} },
		func(s secret) { clear(s.key); zeroed = append(zeroed, s.id) })
	if err != nil {
		t.Fatal(err)
	}
	c.Put(key(1), secret{"a", val(1)})
	c.Put(key(2), secret{"b", val(2)})
	if got, ok := c.Get(key(2)); !ok || got.id != "b" {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
	if len(zeroed) != 1 || zeroed[0] != "a" {
		t.Fatalf("zeroed = %v", zeroed)
	}
	// nil clone/zero: plain values.
	p, err := New[int](Config{MaxEntries: 2, TTL: time.Minute}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Put(key(1), 42)
	if v, ok := p.Get(key(1)); !ok || v != 42 {
		t.Fatal("plain value lost")
	}
}

// model is a straightforward reference implementation: a slice ordered from
// least to most recently used.
type model struct {
	max     int
	ttl     time.Duration
	entries []modelEntry
	stats   Stats
}

type modelEntry struct {
	k       Key
	v       []byte
	expires time.Time
}

func (m *model) expire(now time.Time) {
	kept := m.entries[:0]
	for _, e := range m.entries {
		if now.Before(e.expires) {
			kept = append(kept, e)
		} else {
			m.stats.Expired++
		}
	}
	m.entries = kept
}

func (m *model) find(k Key) int {
	for i, e := range m.entries {
		if e.k == k {
			return i
		}
	}
	return -1
}

func (m *model) get(k Key, now time.Time) ([]byte, bool) {
	m.expire(now)
	i := m.find(k)
	if i < 0 {
		m.stats.Misses++
		return nil, false
	}
	e := m.entries[i]
	m.entries = append(append(m.entries[:i:i], m.entries[i+1:]...), e)
	m.stats.Hits++
	return e.v, true
}

func (m *model) put(k Key, v []byte, now time.Time) {
	m.expire(now)
	if i := m.find(k); i >= 0 {
		m.entries = append(m.entries[:i:i], m.entries[i+1:]...)
	}
	m.entries = append(m.entries, modelEntry{k: k, v: v, expires: now.Add(m.ttl)})
	for len(m.entries) > m.max {
		m.entries = m.entries[1:]
		m.stats.Evictions++
	}
}

func (m *model) remove(k Key) bool {
	if i := m.find(k); i >= 0 {
		m.entries = append(m.entries[:i:i], m.entries[i+1:]...)
		return true
	}
	return false
}

// TestMatchesModel drives the cache and the model with the same random
// operations and checks every answer and the counters agree.
func TestMatchesModel(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		clk := newFakeClock()
		max := 1 + rng.IntN(8)
		ttl := time.Duration(1+rng.IntN(20)) * time.Second
		c := newBytes(t, max, ttl, clk)
		m := &model{max: max, ttl: ttl}
		for op := 0; op < 2000; op++ {
			k := key(rng.IntN(12))
			switch r := rng.IntN(100); {
			case r < 40:
				got, ok := c.Get(k)
				want, wok := m.get(k, clk.Now())
				if ok != wok || !bytes.Equal(got, want) {
					t.Fatalf("seed %d op %d: Get = %x,%v want %x,%v", seed, op, got, ok, want, wok)
				}
			case r < 80:
				v := val(rng.IntN(1000))
				c.Put(k, v)
				m.put(k, bytes.Clone(v), clk.Now())
			case r < 85:
				if c.Remove(k) != m.remove(k) {
					t.Fatalf("seed %d op %d: Remove disagrees", seed, op)
				}
			case r < 87:
				c.Clear()
				m.entries = nil
			case r < 90:
				c.Sweep()
				m.expire(clk.Now())
			default:
				clk.Advance(time.Duration(rng.IntN(3000)) * time.Millisecond)
			}
			s := c.Stats()
			want := m.stats
			want.Size = len(m.entries)
			if s != want {
				t.Fatalf("seed %d op %d: Stats = %+v, want %+v", seed, op, s, want)
			}
		}
	}
}

func TestConcurrent(t *testing.T) {
	clk := newFakeClock()
	c := newBytes(t, 16, time.Second, clk)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; i < 2000; i++ {
				n := rng.IntN(40)
				switch rng.IntN(10) {
				case 0:
					c.Remove(key(n))
				case 1:
					clk.Advance(10 * time.Millisecond)
					c.Sweep()
				case 2, 3, 4:
					c.Put(key(n), val(n))
				default:
					if v, ok := c.Get(key(n)); ok && !bytes.Equal(v, val(n)) {
						t.Errorf("Get(%d) = %x: torn or wrong value", n, v)
						return
					}
				}
				if i%500 == 0 {
					c.Clear()
					_ = c.Stats()
				}
			}
		}(g)
	}
	wg.Wait()
	if c.Len() > 16 {
		t.Fatalf("Len = %d > MaxEntries", c.Len())
	}
}

func BenchmarkGetHit(b *testing.B) {
	c, _ := NewBytes(Config{MaxEntries: 1024, TTL: time.Hour})
	for i := 0; i < 1024; i++ {
		c.Put(key(i), val(i))
	}
	k := key(7)
	b.SetBytes(32)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Get(k); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkGetHitParallel(b *testing.B) {
	c, _ := NewBytes(Config{MaxEntries: 1024, TTL: time.Hour})
	keys := make([]Key, 1024)
	for i := range keys {
		keys[i] = key(i)
		c.Put(keys[i], val(i))
	}
	b.SetBytes(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := c.Get(keys[i%len(keys)]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}

func BenchmarkPutEvict(b *testing.B) {
	c, _ := NewBytes(Config{MaxEntries: 1024, TTL: time.Hour})
	keys := make([]Key, 4096)
	for i := range keys {
		keys[i] = key(i)
	}
	v := val(1)
	b.SetBytes(32)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Put(keys[i%len(keys)], v)
		i++
	}
}

func BenchmarkKeyFor(b *testing.B) {
	ct := make([]byte, 90)
	ec := []byte(`{"bucket":"photos","object":"2024/01/cat.jpg"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = KeyFor(ct, ec)
	}
}
