package coordinator

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-search/shoal/protocol"
)

// TestAttemptsCountOutcomes checks the outcome each shard's part of each
// request is counted with (shoal_shard_requests_total): exactly one per
// shard per request sent, including the requests still in flight when the
// run ends.
func TestAttemptsCountOutcomes(t *testing.T) {
	internal := &protocol.ShardError{Code: protocol.CodeInternal, Description: "disk on fire"}
	one := func(copies ...string) []shardPlan { return []shardPlan{{shard: 3, copies: copies}} }
	tests := []struct {
		name    string
		lead    string
		plans   []shardPlan
		copies  map[string]fakeCopy
		timeout time.Duration
		want    map[string]int
	}{{
		name:   "the first copy dead: no responders, then a failover that answers",
		plans:  one("a", "b", ""),
		copies: map[string]fakeCopy{"a": {dead: true}, "b": {}},
		want:   map[string]int{shardNoResponders: 1, shardFailover: 1},
	}, {
		name:   "the first copy silent: the hedge wins, the first request lost",
		plans:  one("a", "b", ""),
		copies: map[string]fakeCopy{"a": {silent: true}, "b": {}},
		want:   map[string]int{shardHedgeWon: 1, shardHedgeLost: 1},
	}, {
		name:   "a slow copy wins when its hedge fails",
		plans:  one("a", "b", ""),
		copies: map[string]fakeCopy{"a": {delay: 80 * time.Millisecond}, "b": {err: internal}},
		want:   map[string]int{shardOK: 1, shardError: 1},
	}, {
		name:    "both copies silent past the deadline: timeouts",
		plans:   one("a", "b", ""),
		copies:  map[string]fakeCopy{"a": {silent: true}, "b": {silent: true}},
		timeout: 150 * time.Millisecond,
		want:    map[string]int{shardTimeout: 2},
	}, {
		name:   "the lead answers for its two shards: two ok",
		lead:   "n",
		plans:  []shardPlan{{shard: 1, copies: []string{"m", ""}}, {shard: 2, copies: []string{""}}},
		copies: map[string]fakeCopy{"n": {}},
		want:   map[string]int{shardOK: 2},
	}, {
		name:   "the lead answers late: one shard's hedge won, the lead lost both, the other shard fails over",
		lead:   "n",
		plans:  []shardPlan{{shard: 1, copies: []string{"m", ""}}, {shard: 2, copies: []string{""}}},
		copies: map[string]fakeCopy{"n": {delay: 80 * time.Millisecond}, "m": {}, "": {}},
		want:   map[string]int{shardHedgeWon: 1, shardHedgeLost: 2, shardFailover: 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			var mu sync.Mutex
			got := map[string]int{}
			a := newAttempts[string](&fakeCopies{copies: tt.copies}, hedging{fixed: 20 * time.Millisecond, count: new(atomic.Uint64)}, tt.lead, tt.plans)
			a.count = func(o string) {
				mu.Lock()
				got[o]++
				mu.Unlock()
			}
			a.run(ctx)
			mu.Lock()
			defer mu.Unlock()
			if !maps.Equal(got, tt.want) {
				t.Errorf("counted %v, want %v", got, tt.want)
			}
		})
	}
}
