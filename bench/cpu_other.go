//go:build !unix

package bench

import (
	"context"
	"time"
)

// waitIdle cannot measure the process's CPU use here and returns at once.
func waitIdle(context.Context, time.Duration) {}

// cpuTime is not available here.
func cpuTime() (time.Duration, bool) { return 0, false }
