//go:build unix

package bench

import (
	"context"
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used so far.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// waitIdle waits, up to max, until the process uses less than a tenth of a
// core over a quarter of a second: Bleve merges and persists segments in
// the background after a load, and one engine's housekeeping must not be
// measured as another's cost.
func waitIdle(ctx context.Context, max time.Duration) {
	const window = 250 * time.Millisecond
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		before, ok := cpuTime()
		if !ok {
			return
		}
		t0 := time.Now()
		select {
		case <-ctx.Done():
			return
		case <-time.After(window):
		}
		after, _ := cpuTime()
		if float64(after-before) < 0.1*float64(time.Since(t0)) {
			return
		}
	}
}
