package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-search/shoal/fanout"
)

func TestRunRecordsEachOutcome(t *testing.T) {
	items := []int{0, 1, 2, 3, 4}
	out := fanout.Run(context.Background(), items, fanout.Options{}, func(_ context.Context, i int) (string, error) {
		if i%2 == 1 {
			return "", fmt.Errorf("item %d failed", i)
		}
		return fmt.Sprint("v", i), nil
	})
	if len(out) != len(items) {
		t.Fatalf("%d outcomes for %d items", len(out), len(items))
	}
	for i, o := range out {
		switch {
		case i%2 == 1 && (o.Err == nil || o.Err.Error() != fmt.Sprintf("item %d failed", i)):
			t.Errorf("item %d: error %v, want its own failure", i, o.Err)
		case i%2 == 0 && (o.Err != nil || o.Value != fmt.Sprint("v", i)):
			t.Errorf("item %d: %q, %v; want v%d", i, o.Value, o.Err, i)
		}
	}
	if out.FirstErr() == nil {
		t.Error("FirstErr is nil with failures")
	}
}

func TestRunLimit(t *testing.T) {
	const limit = 2
	var running, most atomic.Int64
	items := make([]int, 10)
	fanout.Run(context.Background(), items, fanout.Options{Limit: limit}, func(context.Context, int) (struct{}, error) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond) // work that takes a while
		running.Add(-1)
		return struct{}{}, nil
	})
	if most.Load() > limit || most.Load() == 0 {
		t.Errorf("%d calls ran at once, want at most %d", most.Load(), limit)
	}
}

// TestRunEndsWithContext checks that calls waiting on the context end with
// it, and that calls not yet started are recorded as not run.
func TestRunEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var started atomic.Int64
	done := make(chan fanout.Outcomes[int], 1)
	go func() {
		done <- fanout.Run(ctx, make([]int, 5), fanout.Options{Limit: 2}, func(ctx context.Context, _ int) (int, error) {
			started.Add(1)
			<-ctx.Done()
			return 0, ctx.Err()
		})
	}()
	select {
	case out := <-done:
		for i, o := range out {
			if !errors.Is(o.Err, context.DeadlineExceeded) {
				t.Errorf("item %d: %v, want the deadline", i, o.Err)
			}
		}
		if started.Load() == 5 {
			t.Error("every call started although the limit was 2 and the context ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestStopOnFailure(t *testing.T) {
	cause := errors.New("the cause")
	out := fanout.Run(context.Background(), []int{0, 1, 2}, fanout.Options{StopOnFailure: true}, func(ctx context.Context, i int) (int, error) {
		if i == 2 {
			return 0, cause
		}
		<-ctx.Done() // the others wait until the failure stops them
		return 0, fmt.Errorf("item %d: %w", i, ctx.Err())
	})
	if err := out.FirstErr(); !errors.Is(err, cause) {
		t.Errorf("FirstErr %v, want the first failure in time", err)
	}
	for i := 0; i < 2; i++ {
		if !errors.Is(out[i].Err, context.Canceled) {
			t.Errorf("item %d: %v, want cancelled", i, out[i].Err)
		}
	}
}
