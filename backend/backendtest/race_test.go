//go:build race

package backendtest_test

const raceEnabled = true
