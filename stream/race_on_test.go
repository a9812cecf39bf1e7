//go:build race

package stream

// raceEnabled: the race detector randomly drops sync.Pool items.
const raceEnabled = true
