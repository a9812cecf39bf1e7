package cache

import (
	"bytes"
	"testing"
	"time"
)

// FuzzOps interprets the input as a sequence of operations (two bytes each:
// opcode, argument) and checks the cache against the reference model after
// every one, including that values leaving the cache are wiped.
func FuzzOps(f *testing.F) {
	f.Add(uint8(3), []byte{1, 1, 1, 2, 1, 3, 0, 1, 4, 9, 0, 1, 2, 1, 3, 0})
	f.Add(uint8(1), []byte{1, 5, 1, 5, 0, 5, 4, 200, 0, 5})
	f.Fuzz(func(t *testing.T, max uint8, ops []byte) {
		if len(ops) > 4096 {
			return
		}
		size := int(max%16) + 1
		clk := newFakeClock()
		c := newBytes(t, size, 10*time.Second, clk)
		m := &model{max: size, ttl: 10 * time.Second}
		var handedOut [][]byte // every slice the cache stored, to check wiping
		for i := 0; i+1 < len(ops); i += 2 {
			k := key(int(ops[i+1] % 24))
			switch ops[i] % 6 {
			case 0:
				got, ok := c.Get(k)
				want, wok := m.get(k, clk.Now())
				if ok != wok || !bytes.Equal(got, want) {
					t.Fatalf("op %d: Get = %x,%v want %x,%v", i, got, ok, want, wok)
				}
			case 1:
				v := val(int(ops[i+1]))
				c.Put(k, v)
				m.put(k, bytes.Clone(v), clk.Now())
				handedOut = append(handedOut, stored(t, c, k))
			case 2:
				if c.Remove(k) != m.remove(k) {
					t.Fatalf("op %d: Remove disagrees", i)
				}
			case 3:
				c.Clear()
				m.entries = nil
			case 4:
				clk.Advance(time.Duration(ops[i+1]) * 100 * time.Millisecond)
			case 5:
				c.Sweep()
				m.expire(clk.Now())
			}
			s := c.Stats()
			want := m.stats
			want.Size = len(m.entries)
			if s != want {
				t.Fatalf("op %d: Stats = %+v, want %+v", i, s, want)
			}
		}
		// Every stored slice is either still live in the cache or wiped.
		live := map[*byte]bool{}
		c.mu.Lock()
		for _, e := range c.entries {
			live[&e.val[0]] = true
		}
		c.mu.Unlock()
		for _, s := range handedOut {
			if !live[&s[0]] && !isZero(s) {
				t.Fatalf("a value that left the cache was not wiped: %x", s)
			}
		}
	})
}
