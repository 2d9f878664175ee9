package coordinator

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// This file is the one hedging policy, and the latency estimates it and
// replica choice share:
//
//   - nodeStats keeps, per searcher node, a moving estimate of its latency
//     (the p95 of its recent answers and an exponentially weighted mean)
//     and the requests this coordinator has in flight to it;
//   - hedgeBudget caps hedges at a share of the requests sent over a
//     sliding window;
//   - hedging decides, for one request, when a shard gets company;
//   - rankCopies orders a shard's copies so that a fast, idle copy is
//     usually asked first, without sending every request to one copy.

// Defaults of the hedging policy.
const (
	// DefaultHedgeBudget is the share of shard requests, in percent,
	// that may be hedges.
	DefaultHedgeBudget = 5.0
	// DefaultHedgeFloor is the shortest hedge delay: below it, a node's
	// p95 is noise, and hedging it would only double the work.
	DefaultHedgeFloor = 2 * time.Millisecond
	// DefaultHedgeWindow is the sliding window the budget counts over.
	DefaultHedgeWindow = 10 * time.Second
)

// latencySamples is how many recent answers of a node its p95 is taken
// from; minSamples is how many it needs before the p95 counts.
const (
	latencySamples = 64
	minSamples     = 8
	// ewmaWeight is the weight of a new answer in a node's mean latency.
	ewmaWeight = 0.2
)

// nodeStats are the coordinator's latency estimates, per searcher node.
type nodeStats struct {
	mu    sync.Mutex
	nodes map[string]*nodeStat
}

// nodeStat is one node's recent latencies and load.
type nodeStat struct {
	ring     [latencySamples]time.Duration
	n        int // samples taken, ever
	ewma     float64
	p95      time.Duration
	stale    bool // p95 must be computed again
	inFlight int
}

func newNodeStats() *nodeStats { return &nodeStats{nodes: map[string]*nodeStat{}} }

// get returns node's stat, made on first use; s.mu is held.
func (s *nodeStats) get(node string) *nodeStat {
	st := s.nodes[node]
	if st == nil {
		st = &nodeStat{}
		s.nodes[node] = st
	}
	return st
}

// begin counts a request to node in flight.
func (s *nodeStats) begin(node string) {
	if s == nil || node == "" {
		return
	}
	s.mu.Lock()
	s.get(node).inFlight++
	s.mu.Unlock()
}

// How a request to a node ended, for its estimates.
type ending int

const (
	// answered: the node answered after took; a sample of its latency.
	answered ending = iota
	// abandoned: the request was given up after took, unanswered (another
	// copy answered first, or time ran out): the node takes at least
	// that long. It can only raise the node's mean; it never enters the
	// p95, which is made of answers only, so a node whose every request
	// is hedged keeps the hedge delay it had.
	abandoned
	// failed: the request failed at once (no responders, an error); it
	// says nothing about latency.
	failed
)

// end counts a request to node, in flight for took, as ended how.
func (s *nodeStats) end(node string, took time.Duration, how ending) {
	if s == nil || node == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.get(node)
	st.inFlight = max(st.inFlight-1, 0)
	switch {
	case how == abandoned && float64(took) > st.ewma:
		st.ewma += ewmaWeight * (float64(took) - st.ewma)
	case how != answered:
	case st.n == 0:
		st.ring[0], st.ewma, st.n, st.stale = took, float64(took), 1, true
	default:
		st.ring[st.n%latencySamples] = took
		st.ewma += ewmaWeight * (float64(took) - st.ewma)
		st.n++
		st.stale = true
	}
}

// p95 is node's recent 95th percentile latency; false until the node has
// answered minSamples requests.
func (s *nodeStats) p95(node string) (time.Duration, bool) {
	if s == nil || node == "" {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.nodes[node]
	if st == nil || st.n < minSamples {
		return 0, false
	}
	if st.stale {
		k := min(st.n, latencySamples)
		var buf [latencySamples]time.Duration // sorted here, not on the heap
		recent := buf[:k]
		copy(recent, st.ring[:k])
		slices.Sort(recent)
		st.p95 = recent[min(k-1, int(math.Ceil(0.95*float64(k)))-1)]
		st.stale = false
	}
	return st.p95, true
}

// scores returns, for each of nodes, how costly asking it looks: its mean
// latency times one plus the requests in flight to it (the queue a new
// request joins). A node without estimates gets the mean score of the
// others, or 1 when none has any.
func (s *nodeStats) scores(nodes []string) []float64 {
	out := make([]float64, len(nodes))
	if s == nil {
		for i := range out {
			out[i] = 1
		}
		return out
	}
	s.mu.Lock()
	var sum float64
	known := 0
	for i, n := range nodes {
		if st := s.nodes[n]; st != nil && st.ewma > 0 {
			out[i] = max(st.ewma, 1) * float64(1+st.inFlight)
			sum += out[i]
			known++
		}
	}
	s.mu.Unlock()
	for i := range out {
		if out[i] == 0 {
			out[i] = 1
			if known > 0 {
				out[i] = sum / float64(known)
			}
		}
	}
	return out
}

// rankCopies orders nodes, the copies of a shard equally fit to answer, for
// asking: each place is drawn at random among the nodes left, weighted by
// the inverse square of their scores. A copy as fast and idle as another
// is as likely to come first, so load spreads; one four times slower comes
// first about once in seventeen times, which keeps its estimate current
// should it recover.
func (s *nodeStats) rankCopies(nodes []string) []string {
	if len(nodes) < 2 {
		return nodes
	}
	scores := s.scores(nodes)
	weights := make([]float64, len(nodes))
	var total float64
	for i, sc := range scores {
		weights[i] = 1 / (sc * sc)
		total += weights[i]
	}
	out := make([]string, 0, len(nodes))
	left := slices.Clone(nodes)
	for len(left) > 0 {
		x := rand.Float64() * total
		k := len(left) - 1
		for i, w := range weights {
			if x < w {
				k = i
				break
			}
			x -= w
		}
		out = append(out, left[k])
		total -= weights[k]
		left = slices.Delete(left, k, k+1)
		weights = slices.Delete(weights, k, k+1)
	}
	return out
}

// hedging is the coordinator's hedging for a request ending with ctx
// (hedging.go): a quarter of the time left is when silent copies are
// probed, should no hedge come first.
func (c *Coordinator) hedging(ctx context.Context) hedging {
	h := hedging{
		off: c.opts.HedgeBudget < 0, fixed: c.opts.HedgeAfter, floor: c.opts.HedgeFloor,
		stats: c.nodes, budget: c.budget, count: &c.hedges,
	}
	if dl, ok := ctx.Deadline(); ok {
		h.probeAfter = max(time.Until(dl)/4, 0)
	}
	return h
}

// endingOf is how an attempt ended, for its node's estimates.
func endingOf[V any](e event[V]) ending {
	err := e.err
	for k := 0; err == nil && k < len(e.ans.shards); k++ {
		err = e.ans.shards[k].err
	}
	switch {
	case err == nil:
		return answered
	case errors.Is(err, nats.ErrNoResponders):
		return failed
	default: // a timeout or another error: it took at least this long
		return abandoned
	}
}

// hedgeBudget allows hedges up to a share of the requests sent over a
// sliding window, counted in buckets of a tenth of the window.
type hedgeBudget struct {
	mu      sync.Mutex
	ratio   float64 // hedges per request sent
	width   time.Duration
	buckets [10]budgetBucket
}

type budgetBucket struct {
	slot     int64 // which width-long slot of time it counts
	requests uint64
	hedges   uint64
}

func newHedgeBudget(percent float64, window time.Duration) *hedgeBudget {
	return &hedgeBudget{ratio: percent / 100, width: window / 10}
}

// bucket returns the bucket of now, emptied if it held an older slot;
// b.mu is held.
func (b *hedgeBudget) bucket(now time.Time) *budgetBucket {
	slot := now.UnixNano() / int64(b.width)
	k := &b.buckets[slot%int64(len(b.buckets))]
	if k.slot != slot {
		*k = budgetBucket{slot: slot}
	}
	return k
}

// sent counts a request that is not a hedge.
func (b *hedgeBudget) sent(now time.Time) {
	b.mu.Lock()
	b.bucket(now).requests++
	b.mu.Unlock()
}

// take reports whether one more hedge fits the budget at now, and if so
// counts it.
func (b *hedgeBudget) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.bucket(now)
	first := cur.slot - int64(len(b.buckets)) + 1
	var requests, hedges uint64
	for i := range b.buckets {
		if k := &b.buckets[i]; k.slot >= first {
			requests += k.requests
			hedges += k.hedges
		}
	}
	if float64(hedges+1) > b.ratio*float64(requests) {
		return false
	}
	cur.hedges++
	return true
}

// hedging is the one place that decides when a shard gets company. A
// shard whose latest request has been silent for its node's hedge delay
// gets one more request, to its next named copy, if the budget allows
// one; it is counted in count. A shard still waiting later (probeAfter,
// or its hedge delay if longer) has the copies it waits on probed: a copy
// killed with the request in hand, or cut off the network, never answers
// at all.
//
// The hedge delay is fixed if set; otherwise it is the node's recent p95
// latency, never under floor. A node the coordinator has no estimate for
// yet is not hedged.
type hedging struct {
	off        bool          // never hedge (probes still run)
	fixed      time.Duration // > 0: the delay for every node
	floor      time.Duration
	probeAfter time.Duration
	stats      *nodeStats   // nil: no estimates
	budget     *hedgeBudget // nil: no cap
	count      *atomic.Uint64
}

// delay is how long a request to node may stay silent before its shards
// are hedged; 0 means never.
func (h hedging) delay(node string) time.Duration {
	switch {
	case h.off || node == "":
		return 0
	case h.fixed > 0:
		return h.fixed
	}
	p, ok := h.stats.p95(node)
	if !ok {
		return 0
	}
	return max(p, h.floor)
}

// probeDelay is how long a request to node may stay silent before the
// copies it waits on are probed.
func (h hedging) probeDelay(node string) time.Duration {
	return max(h.delay(node), h.probeAfter)
}

// sent counts a request that is not a hedge, for the budget.
func (h hedging) sent(now time.Time) {
	if h.budget != nil {
		h.budget.sent(now)
	}
}

// take reports whether a hedge may be sent now, and counts it.
func (h hedging) take(now time.Time) bool {
	if h.budget != nil && !h.budget.take(now) {
		return false
	}
	if h.count != nil {
		h.count.Add(1)
	}
	return true
}
