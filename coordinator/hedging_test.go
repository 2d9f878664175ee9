package coordinator

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-search/shoal/internal/testwait"
)

func TestNodeStats(t *testing.T) {
	s := newNodeStats()
	if _, ok := s.p95("a"); ok {
		t.Fatal("a p95 with no samples")
	}
	for i := 1; i < minSamples; i++ {
		s.begin("a")
		s.end("a", time.Millisecond, answered)
	}
	if _, ok := s.p95("a"); ok {
		t.Fatalf("a p95 with %d samples, fewer than %d", minSamples-1, minSamples)
	}
	// 100 answers of 1..100ms: the p95 is of the last 64 (37..100ms).
	for i := 1; i <= 100; i++ {
		s.begin("a")
		s.end("a", time.Duration(i)*time.Millisecond, answered)
	}
	if p, ok := s.p95("a"); !ok || p != 97*time.Millisecond {
		t.Errorf("p95 %v %v, want 97ms (the 61st of 64 recent answers)", p, ok)
	}
	// An abandoned request never enters the p95, and raises the mean
	// only; a failed one changes neither.
	before := s.nodes["a"].ewma
	s.begin("a")
	s.end("a", time.Hour, abandoned)
	if p, _ := s.p95("a"); p != 97*time.Millisecond {
		t.Errorf("p95 %v after an abandoned request, want 97ms still", p)
	}
	if s.nodes["a"].ewma <= before {
		t.Error("an abandoned request of an hour did not raise the mean")
	}
	before = s.nodes["a"].ewma
	s.begin("a")
	s.end("a", time.Nanosecond, abandoned)
	s.begin("a")
	s.end("a", time.Nanosecond, failed)
	if s.nodes["a"].ewma != before {
		t.Error("a short abandoned or failed request lowered the mean")
	}
	// Requests in flight raise a node's score.
	s.begin("b")
	s.end("b", 10*time.Millisecond, answered)
	base := s.scores([]string{"b"})[0]
	s.begin("b")
	s.begin("b")
	if got := s.scores([]string{"b"})[0]; got != 3*base {
		t.Errorf("score with 2 in flight %v, want 3×%v", got, base)
	}
	// A node without estimates scores as the mean of the others.
	if sc := s.scores([]string{"b", "new"}); sc[1] != sc[0] {
		t.Errorf("scores %v: a new node should score as the known one", sc)
	}
}

func TestHedgeBudget(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newHedgeBudget(5, 10*time.Second)
	if b.take(t0) {
		t.Fatal("a hedge allowed before any request")
	}
	for range 100 {
		b.sent(t0)
	}
	got := 0
	for range 10 {
		if b.take(t0.Add(time.Second)) {
			got++
		}
	}
	if got != 5 {
		t.Errorf("%d hedges allowed on 100 requests, want 5", got)
	}
	// The window slides: eleven seconds on, the requests have left it.
	if b.take(t0.Add(11 * time.Second)) {
		t.Error("a hedge allowed on requests that left the window")
	}
	for range 40 {
		b.sent(t0.Add(12 * time.Second))
	}
	if !b.take(t0.Add(12*time.Second)) || !b.take(t0.Add(12*time.Second)) || b.take(t0.Add(12*time.Second)) {
		t.Error("40 requests in the new window should allow exactly 2 hedges")
	}
	off := newHedgeBudget(0, time.Second)
	for range 1000 {
		off.sent(t0)
	}
	if off.take(t0) {
		t.Error("a budget of 0% allowed a hedge")
	}
}

func TestRankCopies(t *testing.T) {
	s := newNodeStats()
	draws := func(nodes ...string) map[string]int {
		first := map[string]int{}
		for range 20000 {
			out := s.rankCopies(nodes)
			if len(out) != len(nodes) || !sameSet(out, nodes) {
				t.Fatalf("rank %v of %v", out, nodes)
			}
			first[out[0]]++
		}
		return first
	}
	// No estimates: every copy equally likely first.
	for n, k := range draws("a", "b", "c") {
		if k < 5500 || k > 7800 {
			t.Errorf("without estimates %s came first %d of 20000 times, want about a third", n, k)
		}
	}
	for range 20 {
		s.begin("fast")
		s.end("fast", 5*time.Millisecond, answered)
		s.begin("twin")
		s.end("twin", 5*time.Millisecond, answered)
		s.begin("slow")
		s.end("slow", 20*time.Millisecond, answered)
	}
	// Two equal copies share the load; one four times slower comes first
	// about once in seventeen (weights 1, 1/16): never every request to
	// one copy, rarely to the slow one.
	if f := draws("fast", "twin"); f["fast"] < 9000 || f["twin"] < 9000 {
		t.Errorf("equal copies came first %v times, want about even", f)
	}
	if f := draws("fast", "slow"); f["slow"] < 600 || f["slow"] > 1800 {
		t.Errorf("the slow copy came first %d of 20000 times, want about 1180", f["slow"])
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestHedgingDelay(t *testing.T) {
	s := newNodeStats()
	for range minSamples {
		s.begin("warm")
		s.end("warm", 10*time.Millisecond, answered)
		s.begin("quick")
		s.end("quick", 100*time.Microsecond, answered)
	}
	tests := []struct {
		name string
		h    hedging
		node string
		want time.Duration
	}{
		{"adaptive: the node's p95", hedging{stats: s, floor: time.Millisecond}, "warm", 10 * time.Millisecond},
		{"adaptive: never below the floor", hedging{stats: s, floor: time.Millisecond}, "quick", time.Millisecond},
		{"adaptive: no estimate, no hedge", hedging{stats: s, floor: time.Millisecond}, "cold", 0},
		{"fixed", hedging{stats: s, fixed: 3 * time.Millisecond}, "warm", 3 * time.Millisecond},
		{"off", hedging{stats: s, off: true, fixed: 3 * time.Millisecond}, "warm", 0},
		{"the queue group is never hedged", hedging{stats: s, fixed: 3 * time.Millisecond}, "", 0},
	}
	for _, tt := range tests {
		if got := tt.h.delay(tt.node); got != tt.want {
			t.Errorf("%s: delay %v, want %v", tt.name, got, tt.want)
		}
	}
	h := hedging{stats: s, floor: time.Millisecond, probeAfter: 50 * time.Millisecond}
	if got := h.probeDelay("warm"); got != 50*time.Millisecond {
		t.Errorf("probe delay %v, want the 50ms after which silent copies are probed", got)
	}
}

// TestAttemptsAdaptive runs attempts over fake copies with the adaptive,
// budgeted policy.
func TestAttemptsAdaptive(t *testing.T) {
	warm := func(nodes ...string) *nodeStats {
		s := newNodeStats()
		for _, n := range nodes {
			for range minSamples {
				s.begin(n)
				s.end(n, time.Millisecond, answered)
			}
		}
		return s
	}
	plenty := func() *hedgeBudget {
		b := newHedgeBudget(5, time.Minute)
		for range 1000 {
			b.sent(time.Now())
		}
		return b
	}
	plan := []shardPlan{{shard: 0, copies: []string{"a", "b", ""}}}
	tests := []struct {
		name      string
		h         hedging
		copies    map[string]fakeCopy
		want      string // the copy that answers
		hedges    uint64
		asked     []string
		abandoned []string
	}{{
		name:      "a silent copy is hedged after its p95, and its request given up",
		h:         hedging{stats: warm("a", "b"), floor: time.Millisecond, budget: plenty()},
		copies:    map[string]fakeCopy{"a": {silent: true}, "b": {}},
		want:      "b",
		hedges:    1,
		asked:     []string{"a", "b"},
		abandoned: []string{"a"},
	}, {
		name:   "no budget left: no hedge, the slow copy answers",
		h:      hedging{stats: warm("a", "b"), floor: time.Millisecond, budget: newHedgeBudget(5, time.Minute)},
		copies: map[string]fakeCopy{"a": {delay: 60 * time.Millisecond}, "b": {}},
		want:   "a",
		asked:  []string{"a"},
	}, {
		name:   "no estimate of the node yet: no hedge",
		h:      hedging{stats: newNodeStats(), floor: time.Millisecond, budget: plenty()},
		copies: map[string]fakeCopy{"a": {delay: 60 * time.Millisecond}, "b": {}},
		want:   "a",
		asked:  []string{"a"},
	}, {
		name:   "hedging off",
		h:      hedging{off: true, stats: warm("a", "b"), budget: plenty()},
		copies: map[string]fakeCopy{"a": {delay: 60 * time.Millisecond}, "b": {}},
		want:   "a",
		asked:  []string{"a"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var hedges atomic.Uint64
			tt.h.count = &hedges
			fc := &fakeCopies{copies: tt.copies}
			o := newAttempts[string](fc, tt.h, "", plan).run(ctx)[0]
			if !o.answered || o.value != tt.want {
				t.Errorf("outcome %+v, want answered by %s", o, tt.want)
			}
			if hedges.Load() != tt.hedges {
				t.Errorf("%d hedges, want %d", hedges.Load(), tt.hedges)
			}
			// The given-up request sees its context end once the run is over.
			testwaitAbandoned(t, fc, tt.asked, tt.abandoned)
		})
	}
}

// testwaitAbandoned checks which copies were asked and, once their
// goroutines have seen the run end, which requests were given up.
func testwaitAbandoned(t *testing.T, fc *fakeCopies, asked, abandoned []string) {
	t.Helper()
	testwait.For(t, 5*time.Second, time.Millisecond, func() error {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		if !slices.Equal(fc.abandoned, abandoned) {
			return fmt.Errorf("given up %q, want %q", fc.abandoned, abandoned)
		}
		return nil
	})
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if !slices.Equal(fc.asked, asked) {
		t.Errorf("asked %q, want %q", fc.asked, asked)
	}
}

// TestAttemptsBudget runs many requests whose first copy is always slower
// than the hedge delay: the budget caps the hedges at 5% of the requests sent.
func TestAttemptsBudget(t *testing.T) {
	var hedges atomic.Uint64
	// A fixed hedge delay well under the slow copy's answer: every request
	// is due for a hedge even when the machine is so busy that timers
	// fire late (a p95 made of late answers would climb past them).
	h := hedging{stats: newNodeStats(), fixed: time.Millisecond, budget: newHedgeBudget(5, time.Minute), count: &hedges}
	fc := &fakeCopies{copies: map[string]fakeCopy{"a": {delay: 10 * time.Millisecond}, "b": {}}}
	const runs = 200
	for range runs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		newAttempts[string](fc, h, "", []shardPlan{{shard: 0, copies: []string{"a", "b"}}}).run(ctx)
		cancel()
	}
	if got := hedges.Load(); got == 0 || got > runs*5/100 {
		t.Errorf("%d hedges over %d requests, want some and at most 5%%", got, runs)
	}
}
