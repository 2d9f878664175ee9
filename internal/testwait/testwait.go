// Package testwait holds the one way Shoal's tests wait for a condition:
// poll it until it holds or time runs out, then fail with the last reason it
// gave. It is in the spirit of nats-server's checkFor; no test sleeps for a
// fixed time where a condition can be waited on.
package testwait

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// For calls check every poll until it returns nil, and fails the test with
// check's last error when total has passed. It returns at once when check
// first succeeds.
func For(t testing.TB, total, poll time.Duration, check func() error) {
	t.Helper()
	if err := Until(context.Background(), total, poll, check); err != nil {
		t.Fatalf("after %v: %v", total, err)
	}
}

// Until is For without a test: it calls check every poll until it returns
// nil (then Until returns nil), ctx ends or total passes; it then returns
// check's last error. Harnesses that report through their own t use it.
func Until(ctx context.Context, total, poll time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, total)
	defer cancel()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-tick.C:
		}
	}
}

// Steady waits until read gives the same value at polls checks in a row,
// poll apart, and returns it: a figure a background process settles (say,
// the segments scorch's own merging leaves). It fails the test when total
// passes first.
func Steady[T comparable](t testing.TB, total, poll time.Duration, polls int, read func() T) T {
	t.Helper()
	last, same := read(), 0
	For(t, total, poll, func() error {
		if v := read(); v != last {
			last, same = v, 0
		} else {
			same++
		}
		if same < polls {
			return fmt.Errorf("%v, still changing", last)
		}
		return nil
	})
	return last
}
