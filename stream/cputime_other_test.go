//go:build !unix

package stream

import "time"

func processCPU() time.Duration { return 0 }
