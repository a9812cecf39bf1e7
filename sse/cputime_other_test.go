//go:build !unix

package sse

// processCPU is unavailable here: benchmarks report 0.
func processCPU() int64 { return 0 }
