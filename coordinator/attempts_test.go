package coordinator

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/protocol"
)

// fakeCopy is how a fake copy (or node) behaves.
type fakeCopy struct {
	dead    bool          // NATS answers "no responders" at once
	silent  bool          // never answers: only the context ends the wait
	gone    bool          // a probe finds it gone
	delay   time.Duration // answers after this long
	err     error         // answers with this error
	notHere []int         // in a node answer: the shards it does not serve
	lose    int           // its first lose requests never answer (lost with a broker)
	// away is how many of its first requests find no responders: it is
	// between two connections, its broker dead.
	away int
}

// fakeCopies are copies that answer with their own name as the value.
type fakeCopies struct {
	copies    map[string]fakeCopy // by node; "" is the queue group
	mu        sync.Mutex
	asked     []string
	abandoned []string // nodes whose request's context was cancelled
	// reconnect, if set, is what reconnected returns.
	reconnect chan struct{}
}

func (f *fakeCopies) reconnected() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reconnect
}

// reconnectNow closes the reconnect channel, and makes a new one for the
// next reconnect.
func (f *fakeCopies) reconnectNow() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.reconnect)
	f.reconnect = make(chan struct{})
}

// abandon records that node's request was given up before it answered.
func (f *fakeCopies) abandon(ctx context.Context, node string) {
	if errors.Is(ctx.Err(), context.Canceled) {
		f.mu.Lock()
		f.abandoned = append(f.abandoned, node)
		f.mu.Unlock()
	}
}

func (f *fakeCopies) ask(ctx context.Context, node string, shards []int) (answer[string], error) {
	f.mu.Lock()
	f.asked = append(f.asked, node)
	lost := f.copies[node].lose >= f.count(node)
	away := f.copies[node].away >= f.count(node)
	f.mu.Unlock()
	c, ok := f.copies[node]
	if lost {
		c.silent = true
	}
	if !ok || c.dead || away {
		return answer[string]{}, nats.ErrNoResponders
	}
	if c.silent {
		<-ctx.Done()
		f.abandon(ctx, node)
		return answer[string]{}, ctx.Err()
	}
	select {
	case <-time.After(c.delay):
	case <-ctx.Done():
		f.abandon(ctx, node)
		return answer[string]{}, ctx.Err()
	}
	if c.err != nil {
		return answer[string]{}, c.err
	}
	ans := answer[string]{value: node, shards: make([]shardStatus, len(shards))}
	for i, s := range shards {
		if slices.Contains(c.notHere, s) {
			ans.shards[i].err = &protocol.ShardError{Code: protocol.CodeNotHere, Description: "not here"}
		}
	}
	return ans, nil
}

// count is how many times node was asked; f.mu is held.
func (f *fakeCopies) count(node string) int {
	n := 0
	for _, a := range f.asked {
		if a == node {
			n++
		}
	}
	return n
}

func (f *fakeCopies) askNode(ctx context.Context, node string, shards []int) (answer[string], error) {
	return f.ask(ctx, node, shards)
}

func (f *fakeCopies) askCopy(ctx context.Context, node string, shard int) (answer[string], error) {
	return f.ask(ctx, node, []int{shard})
}

func (f *fakeCopies) gone(_ context.Context, node string, _ int) bool {
	c := f.copies[node]
	return c.dead || c.gone
}

// want is a shard's expected outcome.
type want struct {
	node   string
	value  string // for an answered shard
	reason string // for a failed one, as the shard account names it
	state  string // and its state, if checked
}

func TestAttempts(t *testing.T) {
	internal := &protocol.ShardError{Code: protocol.CodeInternal, Description: "disk on fire"}
	bad := &protocol.ShardError{Code: protocol.CodeBadRequest, Description: "no such field"}
	one := func(copies ...string) []shardPlan { return []shardPlan{{shard: 3, copies: copies}} }
	tests := []struct {
		name    string
		lead    string
		plans   []shardPlan
		copies  map[string]fakeCopy
		timeout time.Duration
		want    []want
		hedges  uint64
		asked   []string // in order, when the order is certain
		within  time.Duration
	}{{
		name:   "first copy dead with no responders: the next copy answers",
		plans:  one("a", "b", ""),
		copies: map[string]fakeCopy{"a": {dead: true}, "b": {}},
		want:   []want{{node: "b", value: "b"}},
		asked:  []string{"a", "b"},
	}, {
		name:   "first copy silent: the hedge after the delay wins",
		plans:  one("a", "b", ""),
		copies: map[string]fakeCopy{"a": {silent: true}, "b": {}},
		want:   []want{{node: "b", value: "b"}},
		hedges: 1,
		asked:  []string{"a", "b"},
	}, {
		name:   "all copies dead: the shard fails with the reason",
		plans:  one("a", "b", ""),
		copies: map[string]fakeCopy{"a": {dead: true}, "b": {dead: true}, "": {dead: true}},
		want:   []want{{node: "b", reason: ReasonNoResponders, state: StateUnavailable}},
		asked:  []string{"a", "b", ""},
	}, {
		name:   "a copy answering not here: the next copy",
		plans:  one("a", "b", ""),
		copies: map[string]fakeCopy{"a": {notHere: []int{3}}, "b": {}},
		want:   []want{{node: "b", value: "b"}},
		asked:  []string{"a", "b"},
	}, {
		name:    "the deadline passes: timeout",
		plans:   one("a", "b", ""),
		copies:  map[string]fakeCopy{"a": {silent: true}, "b": {silent: true}},
		timeout: 150 * time.Millisecond,
		want:    []want{{node: "b", reason: ReasonTimeout, state: StateTimedOut}},
		hedges:  1,
		asked:   []string{"a", "b"},
	}, {
		name:   "a lying copy answering an error code: failover",
		plans:  one("a", "b", ""),
		copies: map[string]fakeCopy{"a": {err: internal}, "b": {}},
		want:   []want{{node: "b", value: "b"}},
		asked:  []string{"a", "b"},
	}, {
		name:   "a bad request is final: every copy would say the same",
		plans:  one("a", "b", ""),
		copies: map[string]fakeCopy{"a": {err: bad}, "b": {}},
		want:   []want{{node: "a", reason: bad.Error(), state: StateFailed}},
		asked:  []string{"a"},
	}, {
		name:   "a slow copy still wins when its hedge fails",
		plans:  one("a", "b", ""),
		copies: map[string]fakeCopy{"a": {delay: 80 * time.Millisecond}, "b": {err: internal}},
		want:   []want{{node: "a", value: "a"}},
		hedges: 1,
		asked:  []string{"a", "b"},
	}, {
		name:   "a silent copy found gone by a probe: the queue group",
		plans:  one("a", ""),
		copies: map[string]fakeCopy{"a": {silent: true, gone: true}, "": {}},
		want:   []want{{node: "", value: ""}},
		asked:  []string{"a", ""},
	}, {
		name:   "a shard placed nowhere: the queue group, and no responders there is final",
		plans:  one(""),
		copies: map[string]fakeCopy{},
		want:   []want{{node: "", reason: ReasonNoResponders}},
		asked:  []string{""},
	}, {
		name:   "every copy between connections, one on a live node: asked again once they are back",
		plans:  []shardPlan{{shard: 3, copies: []string{"a", ""}, grace: time.Second}},
		copies: map[string]fakeCopy{"a": {away: 1}, "": {away: 1}},
		want:   []want{{node: "a", value: "a"}},
		asked:  []string{"a", "", "a"},
		within: 500 * time.Millisecond,
	}, {
		name:   "every copy without responders past the grace: no responders, long before the deadline",
		plans:  []shardPlan{{shard: 3, copies: []string{"a", ""}, grace: 200 * time.Millisecond}},
		copies: map[string]fakeCopy{"a": {dead: true}},
		want:   []want{{node: "a", reason: ReasonNoResponders}},
		within: time.Second,
	}, {
		name:    "the grace leaves half the request's time",
		plans:   []shardPlan{{shard: 3, copies: []string{"a", ""}, grace: time.Minute}},
		copies:  map[string]fakeCopy{"a": {dead: true}},
		timeout: 600 * time.Millisecond,
		want:    []want{{node: "a", reason: ReasonNoResponders}},
		within:  500 * time.Millisecond,
	}, {
		name:   "the lead answers for all its shards: its value counts once",
		lead:   "n",
		plans:  []shardPlan{{shard: 1, copies: []string{"m", ""}}, {shard: 2, copies: []string{""}}},
		copies: map[string]fakeCopy{"n": {}},
		want:   []want{{node: "n", value: "n"}, {node: "n", value: ""}},
		asked:  []string{"n"},
	}, {
		name:   "the lead says not here for one shard: that shard's next copy",
		lead:   "n",
		plans:  []shardPlan{{shard: 1, copies: []string{"m", ""}}, {shard: 2, copies: []string{"m", ""}}},
		copies: map[string]fakeCopy{"n": {notHere: []int{2}}, "m": {}},
		want:   []want{{node: "n", value: "n"}, {node: "m", value: "m"}},
		asked:  []string{"n", "m"},
	}, {
		name:   "the lead dead: each shard's next copy",
		lead:   "n",
		plans:  []shardPlan{{shard: 1, copies: []string{"m", ""}}, {shard: 2, copies: []string{""}}},
		copies: map[string]fakeCopy{"n": {dead: true}, "m": {}, "": {}},
		want:   []want{{node: "m", value: "m"}, {node: "", value: ""}},
	}, {
		name:    "the lead died with the request in hand: found by a probe, well before the deadline",
		lead:    "n",
		plans:   []shardPlan{{shard: 1, copies: []string{""}}, {shard: 2, copies: []string{""}}},
		copies:  map[string]fakeCopy{"n": {silent: true, gone: true}, "": {dead: true}},
		timeout: 5 * time.Second,
		want:    []want{{node: "n", reason: ReasonNoResponders}, {node: "n", reason: ReasonNoResponders}},
		within:  time.Second,
	}, {
		name:   "the lead answers after a shard was answered alone: not counted twice",
		lead:   "n",
		plans:  []shardPlan{{shard: 1, copies: []string{"m", ""}}, {shard: 2, copies: []string{""}}},
		copies: map[string]fakeCopy{"n": {delay: 80 * time.Millisecond}, "m": {}, "": {}},
		want:   []want{{node: "m", value: "m"}, {node: "", value: ""}},
		hedges: 1,
		asked:  []string{"n", "m", ""},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			fc := &fakeCopies{copies: tt.copies}
			var hedges atomic.Uint64
			start := time.Now()
			got := newAttempts[string](fc, hedging{fixed: 20 * time.Millisecond, count: &hedges}, tt.lead, tt.plans).run(ctx)
			took := time.Since(start)
			if len(got) != len(tt.want) {
				t.Fatalf("%d outcomes, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				o := got[i]
				if o.node != w.node {
					t.Errorf("shard %d: node %q, want %q (%+v)", tt.plans[i].shard, o.node, w.node, o)
				}
				if w.reason == "" && (!o.answered || o.err != nil || o.value != w.value) {
					t.Errorf("shard %d: %+v, want answered with value %q", tt.plans[i].shard, o, w.value)
				}
				if state, reason := failureReason(o.err); w.reason != "" && (o.answered || reason != w.reason || w.state != "" && state != w.state) {
					t.Errorf("shard %d: %+v (%s: %q), want failed with %s: %q", tt.plans[i].shard, o, state, reason, w.state, w.reason)
				}
			}
			if hedges.Load() != tt.hedges {
				t.Errorf("%d hedges, want %d", hedges.Load(), tt.hedges)
			}
			fc.mu.Lock()
			asked := fc.asked
			fc.mu.Unlock()
			if tt.asked != nil && !slices.Equal(asked, tt.asked) {
				t.Errorf("asked %q, want %q", asked, tt.asked)
			}
			if tt.within > 0 && took > tt.within {
				t.Errorf("took %v, want under %v", took, tt.within)
			}
		})
	}
}

// TestAttemptsEndWithContext checks that a run over copies that never
// answer ends when its context is cancelled, with the cancellation.
func TestAttemptsEndWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	fc := &fakeCopies{copies: map[string]fakeCopy{"a": {silent: true}}}
	done := make(chan []outcome[string], 1)
	go func() {
		done <- newAttempts[string](fc, hedging{count: new(atomic.Uint64)}, "", []shardPlan{{shard: 0, copies: []string{"a", ""}}}).run(ctx)
	}()
	cancel()
	select {
	case out := <-done:
		if !errors.Is(out[0].err, context.Canceled) {
			t.Errorf("outcome %+v, want cancelled", out[0])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the run did not end with its context")
	}
}
