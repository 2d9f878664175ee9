package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/rewrite"
)

// copies is what attempts needs of the copies of its shards: ask them, and
// find out whether one is gone. The coordinator's copies speak NATS
// (copies.go); unit tests use fakes that are slow, dead or lying.
type copies[V any] interface {
	// askNode asks node for all of shards in one request.
	askNode(ctx context.Context, node string, shards []int) (answer[V], error)
	// askCopy asks node's copy of shard; node "" asks whichever copy the
	// shard's queue group picks.
	askCopy(ctx context.Context, node string, shard int) (answer[V], error)
	// gone reports whether node's copy of shard is no longer there: NATS
	// has no responders for it.
	gone(ctx context.Context, node string, shard int) bool
	// reconnected is closed when the connection requests go out on was
	// lost and is back: whatever was in flight is lost (reconnect.go).
	reconnected() <-chan struct{}
}

// answer is what a node or a copy answered: a status per shard asked, in
// the order asked, and one value covering every shard that answered.
type answer[V any] struct {
	value  V
	shards []shardStatus
	// from is the node that answered, as it says, and took how long it
	// spent on the request, if it reported it (a profiled search).
	from string
	took time.Duration
}

// shardStatus is one shard's part of an answer.
type shardStatus struct {
	seq uint64 // the copy's applied stream sequence
	err error  // nil: the shard answered
	// queue and search are the node's report of the shard's wait for a
	// worker and its search (a profiled search only).
	queue, search time.Duration
}

// outcome is how one shard fared. A shard answered together with others
// has answered set and the zero value: the answer's value sits on the
// first of them.
type outcome[V any] struct {
	node     string
	answered bool
	value    V
	seq      uint64
	err      error
	// What the profile shows (profile.go): the node named in the answer,
	// the status it gave the shard, its time on the request, how long the
	// coordinator waited for that answer, and how many copies beyond the
	// lead were asked, and how many of those were hedges.
	from          string
	status        shardStatus
	took, wait    time.Duration
	tried, hedges int
	kind          requestKind // the request whose answer was taken
	asked         []string    // the copies asked, in order (scatter, profiled only)
}

// errAnsweredElsewhere is a node's answer that came after one of its shards
// was answered by another copy: taking it would count that shard twice.
var errAnsweredElsewhere = errors.New("answer overlaps a shard answered by another copy")

// shardPlan is the copies of one shard an attempts run may ask, beyond the
// lead: named copies in order of preference, then "" (the shard's queue
// group, for a copy the map does not show yet).
type shardPlan struct {
	shard  int
	copies []string
	// why, for a shard with no copy to ask, is the reason it fails.
	why error
	// grace, if set, is how long a shard whose every copy NATS finds
	// without responders is asked again after short pauses (askLater):
	// a copy of it is on a node that beat lately, more likely between
	// two connections (its broker died) than gone.
	grace time.Duration
}

// attempts asks for one request's shards until each has a good answer, a
// final failure, or the deadline passes: failover and hedging in one event
// loop. A lead node, if any, is first asked for all shards at once; after
// that each shard goes its own way through its copies:
//   - a copy that fails (no responders, an error code, "not here") is
//     replaced at once by the next, if nothing else is in flight for the
//     shard;
//   - a shard silent past its copy's hedge delay is hedged, and later
//     its silent copies are probed (see hedging);
//   - a copy found gone by a probe counts as failed;
//   - "bad request" and "no responders" from the queue group are final.
//
// The first good answer wins.
type attempts[V any] struct {
	copies copies[V]
	hedge  hedging
	lead   string
	shards []shardRun
	out    []outcome[V]
	// count, if set, is told the outcome of each shard's part of every
	// request sent (the shard* outcome constants of metrics.go).
	count  func(outcome string)
	events chan event[V]
	timer  *time.Timer
	sent   []*attempt
	// left counts shards without an outcome, pending requests in flight,
	// waiting shards waiting to be asked again (askLater).
	left, pending, waiting int
}

// shardRun is one shard's state in an attempts run.
type shardRun struct {
	shardPlan
	next     int       // index in copies of the next copy to ask
	inflight int       // requests in flight that cover the shard
	due      time.Time // when the shard is hedged; zero: never
	probeAt  time.Time // when its silent copies are probed; zero: never
	done     bool
	last     string // the named copy asked or failed last
	lastErr  error
	hedges   int // hedged requests sent
	// retryAt is when the shard is asked again, its copies all found
	// without responders (askLater); graceEnd is when that stops, and
	// pause the wait before the next round.
	retryAt, graceEnd time.Time
	pause             time.Duration
}

// attempt is one request in flight.
type attempt struct {
	node   string
	shards []int // indexes in attempts.shards
	over   bool  // answered, or found gone: later news is ignored
	probed bool
	joint  bool // asks the node for all its shards at once
	kind   requestKind
	at     time.Time // when it was sent
}

// requestKind is why a request was sent: the outcome it counts as if it
// wins.
type requestKind uint8

const (
	requestFirst    requestKind = iota // the shard's first request
	requestFailover                    // after a copy failed
	requestHedge                       // after a copy stayed silent
)

// won is the outcome of a request of kind k whose answer was taken.
func (k requestKind) won() string {
	switch k {
	case requestFailover:
		return shardFailover
	case requestHedge:
		return shardHedgeWon
	default:
		return shardOK
	}
}

// event is an attempt's answer, or a probe's verdict that its copy is gone.
type event[V any] struct {
	a    *attempt
	ans  answer[V]
	err  error
	gone bool
}

// newAttempts prepares a run over plans; lead is the node asked first for
// all of them ("" for none).
func newAttempts[V any](cp copies[V], hedge hedging, lead string, plans []shardPlan) *attempts[V] {
	r := &attempts[V]{copies: cp, hedge: hedge, lead: lead, out: make([]outcome[V], len(plans)), left: len(plans),
		shards: make([]shardRun, 0, len(plans))}
	events := 1 // the lead's answer
	for _, p := range plans {
		r.shards = append(r.shards, shardRun{shardPlan: p, last: lead, lastErr: p.why})
		events += 2 * len(p.copies) // each copy's answer and a probe's verdict
	}
	events++ // the lead's probe
	r.events = make(chan event[V], events)
	return r
}

// run asks until every shard has an outcome, and returns them in the order
// of the plans.
func (r *attempts[V]) run(ctx context.Context) []outcome[V] {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // requests still in flight end with the run
	r.timer = time.NewTimer(time.Hour)
	r.timer.Stop()
	defer r.timer.Stop()
	if r.lead != "" {
		all := make([]int, len(r.shards))
		for i := range all {
			all[i] = i
		}
		r.send(ctx, r.lead, all, true, requestFirst)
	} else {
		for i := range r.shards {
			r.failover(ctx, i)
		}
	}
	lost := r.copies.reconnected()
	for r.left > 0 && (r.pending > 0 || r.waiting > 0) {
		r.arm()
		select {
		case <-ctx.Done():
			r.pending, r.waiting = 0, 0
		case <-lost:
			lost = r.copies.reconnected()
			r.resend(ctx)
		case <-r.timer.C:
			r.hedgeDue(ctx, time.Now())
		case e := <-r.events:
			r.handle(ctx, e)
		}
	}
	now := time.Now()
	for _, a := range r.sent {
		if !a.over { // given up: its node takes at least this long
			r.hedge.stats.end(a.node, now.Sub(a.at), abandoned)
		}
	}
	for i := range r.shards {
		if !r.shards[i].done {
			r.fail(ctx, i)
		}
	}
	r.countUnanswered()
	return r.out
}

// send asks node for shards (indexes in r.shards): all of them at once
// if joint, else the one shard's copy on node. A hedge is a request on
// top of those in flight; any other counts towards the hedging budget.
func (r *attempts[V]) send(ctx context.Context, node string, shards []int, joint bool, kind requestKind) {
	if kind != requestHedge {
		r.hedge.sent(time.Now())
	}
	r.dispatch(ctx, node, shards, joint, kind)
}

// dispatch sends the request, and starts the hedge and probe clocks of its
// shards.
func (r *attempts[V]) dispatch(ctx context.Context, node string, shards []int, joint bool, kind requestKind) {
	now := time.Now()
	a := &attempt{node: node, shards: shards, kind: kind, at: now, joint: joint}
	r.sent = append(r.sent, a)
	r.pending++
	r.hedge.stats.begin(node)
	due, probe := r.hedge.delay(node), r.hedge.probeDelay(node)
	nums := make([]int, len(shards))
	for k, i := range shards {
		s := &r.shards[i]
		nums[k] = s.shard
		s.inflight++
		if node != "" {
			s.last = node
		}
		s.due, s.probeAt = time.Time{}, time.Time{}
		if due > 0 {
			s.due = now.Add(due)
		}
		if probe > 0 {
			s.probeAt = now.Add(probe)
		}
	}
	go func() {
		var ev event[V]
		if joint {
			ev.ans, ev.err = r.copies.askNode(ctx, node, nums)
		} else {
			ev.ans, ev.err = r.copies.askCopy(ctx, node, nums[0])
		}
		ev.a = a
		r.post(ctx, ev)
	}()
}

// post hands e to the run's loop. Once the run has ended (ctx is done
// then), nobody reads events: a request resent after a reconnect may
// outnumber the buffer, so a late event is dropped rather than left
// blocking its goroutine for ever.
func (r *attempts[V]) post(ctx context.Context, e event[V]) {
	select {
	case r.events <- e:
	case <-ctx.Done():
	}
}

// failover asks shard i's next copy, unless a request for it is still in
// flight; with no copy left, or no time, the shard has failed.
func (r *attempts[V]) failover(ctx context.Context, i int) {
	s := &r.shards[i]
	if s.done || s.inflight > 0 {
		return
	}
	if ctx.Err() != nil || s.next >= len(s.copies) {
		r.fail(ctx, i)
		return
	}
	kind := requestFailover
	if s.next == 0 && r.lead == "" {
		kind = requestFirst
	}
	s.next++
	r.send(ctx, s.copies[s.next-1], []int{i}, false, kind)
}

// arm sets the timer to the earliest hedge or probe due.
func (r *attempts[V]) arm() {
	var first time.Time
	for i := range r.shards {
		s := &r.shards[i]
		if s.done {
			continue
		}
		for _, t := range []time.Time{s.due, s.probeAt, s.retryAt} {
			if !t.IsZero() && (first.IsZero() || t.Before(first)) {
				first = t
			}
		}
	}
	r.timer.Stop()
	if !first.IsZero() {
		r.timer.Reset(time.Until(first))
	}
}

// hedgeDue hedges every shard whose hedge is due at now, to its next named
// copy, if it has one and the budget allows; and probes, once, the copies
// of every shard whose probe is due.
func (r *attempts[V]) hedgeDue(ctx context.Context, now time.Time) {
	for i := range r.shards {
		s := &r.shards[i]
		if s.done {
			continue
		}
		if !s.retryAt.IsZero() && !s.retryAt.After(now) {
			s.retryAt = time.Time{}
			r.waiting--
			r.failover(ctx, i)
			continue
		}
		if !s.due.IsZero() && !s.due.After(now) {
			s.due = time.Time{}
			if s.next < len(s.copies) && s.copies[s.next] != "" && r.hedge.take(now) {
				s.next++
				s.hedges++
				r.send(ctx, s.copies[s.next-1], []int{i}, false, requestHedge)
				continue
			}
		}
		if !s.probeAt.IsZero() && !s.probeAt.After(now) {
			s.probeAt = time.Time{}
			r.probe(ctx, i)
		}
	}
}

// probe asks whether the named copies shard i waits on are still there.
// A request sent to a copy in the instant it died never hears back; the
// probe costs a live copy nothing.
func (r *attempts[V]) probe(ctx context.Context, i int) {
	for _, a := range r.inFlight(i) {
		if a.probed || a.node == "" {
			continue
		}
		a.probed = true
		shard := r.shards[i].shard
		go func() {
			if r.copies.gone(ctx, a.node, shard) {
				r.post(ctx, event[V]{a: a, gone: true})
			}
		}()
	}
}

// handle takes in an answer or a probe's verdict.
func (r *attempts[V]) handle(ctx context.Context, e event[V]) {
	a := e.a
	if a.over {
		return // found gone, and then its request ended after all
	}
	a.over = true
	r.pending--
	if e.gone {
		e.err = nats.ErrNoResponders
	}
	if e.err == nil && len(e.ans.shards) != len(a.shards) {
		e.err = fmt.Errorf("%s answered for %d shards, asked for %d", a.node, len(e.ans.shards), len(a.shards))
	}
	r.hedge.stats.end(a.node, time.Since(a.at), endingOf(e))
	shared := e.err == nil && r.fresh(a, e.ans)
	first := true
	for k, i := range a.shards {
		s := &r.shards[i]
		if s.done {
			r.tally(shardHedgeLost)
			continue
		}
		s.inflight--
		err := e.err
		if err == nil {
			err = e.ans.shards[k].err
		}
		if err == nil && !shared {
			err = errAnsweredElsewhere
		}
		r.tally(requestOutcome(a.kind, err))
		switch {
		case err == nil:
			o := outcome[V]{node: a.node, answered: true, seq: e.ans.shards[k].seq,
				from: e.ans.from, status: e.ans.shards[k], took: e.ans.took, wait: time.Since(a.at), tried: s.next, hedges: s.hedges, kind: a.kind}
			if first { // the value counts once
				o.value, first = e.ans.value, false
			}
			r.finish(i, o)
		case errors.Is(err, protocol.ErrBadRequest), errors.Is(err, rewrite.ErrLimit):
			r.finish(i, outcome[V]{node: a.node, err: err}) // every copy would say the same
		case a.node == "" && errors.Is(err, nats.ErrNoResponders):
			s.lastErr = err
			if !r.askLater(ctx, i) {
				r.finish(i, outcome[V]{node: s.last, err: err}) // no copy serves the shard now
			}
		default:
			s.lastErr = err
			if a.node != "" {
				s.last = a.node
			}
			r.failover(ctx, i)
		}
	}
}

// fresh reports whether no shard a's answer answers already has an
// outcome, so its value can be taken whole.
func (r *attempts[V]) fresh(a *attempt, ans answer[V]) bool {
	for k, i := range a.shards {
		if r.shards[i].done && ans.shards[k].err == nil {
			return false
		}
	}
	return true
}

// inFlight lists the requests in flight for shard i.
func (r *attempts[V]) inFlight(i int) []*attempt {
	var out []*attempt
	for _, a := range r.sent {
		if !a.over && slices.Contains(a.shards, i) {
			out = append(out, a)
		}
	}
	return out
}

func (r *attempts[V]) finish(i int, o outcome[V]) {
	r.shards[i].done = true
	r.left--
	r.out[i] = o
}

// fail ends shard i with the error it failed with last, as a timeout if
// time ran out.
func (r *attempts[V]) fail(ctx context.Context, i int) {
	s := &r.shards[i]
	err := s.lastErr
	switch {
	case err == nil && ctx.Err() != nil:
		err = ctx.Err()
	case err == nil:
		err = errNotPlaced
	case ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, protocol.ErrBehind):
		// A copy that answered behind keeps its reason: it was asked
		// in time, and was not up to date.
		err = fmt.Errorf("%w (last error: %v)", context.DeadlineExceeded, err)
	}
	r.finish(i, outcome[V]{node: s.last, err: err, tried: s.next, hedges: s.hedges})
}
