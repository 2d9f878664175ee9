package coordinator

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-search/shoal/internal/testwait"
)

// TestAttemptsResendAfterReconnect: requests lost with the coordinator's
// broker are sent again, to the same copies, as soon as the connection is
// back, and answered long before the deadline; no hedge is counted.
func TestAttemptsResendAfterReconnect(t *testing.T) {
	tests := []struct {
		name  string
		lead  string
		plans []shardPlan
		lose  map[string]int
		want  []string // the node that answers each shard
		asked []string
	}{
		{name: "one copy", plans: []shardPlan{{shard: 0, copies: []string{"a"}}},
			lose: map[string]int{"a": 1}, want: []string{"a"}, asked: []string{"a", "a"}},
		{name: "whole node", lead: "n", plans: []shardPlan{{shard: 0}, {shard: 1}},
			lose: map[string]int{"n": 1}, want: []string{"n", "n"}, asked: []string{"n", "n"}},
		{name: "only the lost one", plans: []shardPlan{{shard: 0, copies: []string{"a"}}, {shard: 1, copies: []string{"b"}}},
			lose: map[string]int{"a": 1}, want: []string{"a", "b"}, asked: []string{"a", "b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			copies := map[string]fakeCopy{}
			for _, n := range []string{"a", "b", "n"} {
				copies[n] = fakeCopy{lose: tt.lose[n]}
			}
			fc := &fakeCopies{copies: copies, reconnect: make(chan struct{})}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var hedges atomic.Uint64
			done := make(chan []outcome[string], 1)
			go func() {
				done <- newAttempts[string](fc, hedging{count: &hedges}, tt.lead, tt.plans).run(ctx)
			}()
			// The connection comes back once every first request is out.
			for {
				fc.mu.Lock()
				n := len(fc.asked)
				fc.mu.Unlock()
				if n == len(tt.plans) || (tt.lead != "" && n == 1) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			fc.reconnectNow()
			var out []outcome[string]
			select {
			case out = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("lost requests were not sent again after the reconnect")
			}
			for i, o := range out {
				if o.err != nil || !o.answered || o.node != tt.want[i] {
					t.Errorf("shard %d: %+v, want answered by %s", i, o, tt.want[i])
				}
			}
			fc.mu.Lock()
			asked := slices.Clone(fc.asked)
			fc.mu.Unlock()
			if !slices.Equal(asked, tt.asked) && !(len(asked) == 3 && slices.Equal(asked[2:], tt.asked[2:])) {
				t.Errorf("asked %v, want %v", asked, tt.asked)
			}
			if hedges.Load() != 0 {
				t.Errorf("%d hedges counted for a resend", hedges.Load())
			}
		})
	}
}

// TestAttemptsResendLeavesNoGoroutine: requests resent after many
// reconnects outnumber the run's event buffer; once the run has ended,
// every request's goroutine still ends.
func TestAttemptsResendLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	fc := &fakeCopies{copies: map[string]fakeCopy{"a": {lose: 8}}, reconnect: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan []outcome[string], 1)
	go func() {
		done <- newAttempts[string](fc, hedging{count: new(atomic.Uint64)}, "", []shardPlan{{shard: 0, copies: []string{"a"}}}).run(ctx)
	}()
	for sent := 1; sent <= 8; sent++ {
		testwait.For(t, 10*time.Second, time.Millisecond, func() error {
			fc.mu.Lock()
			defer fc.mu.Unlock()
			if len(fc.asked) < sent {
				return fmt.Errorf("%d requests sent, waiting for %d", len(fc.asked), sent)
			}
			return nil
		})
		fc.reconnectNow()
	}
	if out := <-done; out[0].err != nil || out[0].node != "a" {
		t.Fatalf("outcome %+v, want answered by a", out[0])
	}
	testwait.For(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines, %d before the run", n, before)
		}
		return nil
	})
}
