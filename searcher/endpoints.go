package searcher

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/tracing"
)

// endpoints are the subscriptions of one copy or of the node itself.
//
// A node answers its requests on plain NATS subscriptions, not through
// nats.go micro services, and this is deliberate. micro measures an
// endpoint's statistics around its handler: the request count, processing
// time and errors in $SRV.STATS are recorded when the handler returns. It
// also calls the handler on the endpoint's one subscription goroutine, so a
// handler that did its work there would answer one request per endpoint at
// a time (the node search endpoint, which takes every query the node sees,
// above all). The node therefore hands each request to its worker pool and
// returns at once, which left micro timing the hand-off and counting no
// errors at all: its statistics were false. A micro handler cannot report
// work done after it returned, so rather than publish wrong statistics the
// node keeps its pool and drops micro. Nothing in Shoal reads $SRV: the
// coordinator learns copies from placement and heartbeats, and finds a
// missing copy by "no responders".
//
// The wire stays what micro sent: the same subjects and queue groups (per
// shard in protocol.QueueGroup; per copy and per node with none), replies
// on the request's reply subject, and errors in the Nats-Service-Error-Code
// and Nats-Service-Error headers (request.go). A copy subscribes only once
// caught up and unsubscribes when dropped, so a copy not served still gets
// "no responders".
type endpoints []*nats.Subscription

// endpoint is one subject the node answers on: with queue set, as one
// member of that queue group.
type endpoint struct {
	subject, queue string
	handle         func(request)
	// waits marks an endpoint whose requests mostly wait (for a copy to
	// apply a sequence): they run beside the pool, bounded by maxWaits,
	// so that waiting clients never hold the workers searches need.
	waits bool
}

// maxWaits bounds the wait requests a node holds at once; past it, a wait
// is answered at once with CodeUnavailable.
const maxWaits = 1024

// subscribe subscribes to every endpoint in eps, each request handed to the
// worker pool; if one fails, those made are undone.
func (n *Node) subscribe(eps []endpoint) (endpoints, error) {
	var subs endpoints
	for _, ep := range eps {
		cb := n.dispatch(ep.handle)
		if ep.waits {
			cb = n.dispatchWait(ep.handle)
		}
		sub, err := n.nc.QueueSubscribe(ep.subject, ep.queue, cb)
		if err != nil {
			subs.stop()
			return nil, fmt.Errorf("subscribe %s: %w", ep.subject, err)
		}
		subs = append(subs, sub)
	}
	return subs, nil
}

// answers reports whether the node answers m. A node told to drop
// replies (Faults.SetDropReplies) takes the request and does nothing. A
// request whose reply subject is no inbox is dropped: the node's
// permission to answer (allow_responses) covers whatever reply subject a
// requester names, and a reply published on a KV key or an ingest subject
// would be stored there, under another node's heartbeat say.
func (n *Node) answers(m *nats.Msg) bool {
	if n.faults.dropReplies.Load() {
		return false
	}
	if !protocol.IsInbox(m.Reply) {
		if ok, skipped := n.refused.Allow(time.Now()); ok {
			n.log.Warn("request dropped: its reply subject is no inbox", "subject", m.Subject, "reply", m.Reply,
				"suppressed_since_last", skipped)
		}
		return false
	}
	return true
}

// dispatch returns the subscription callback of handle: it hands the
// request to the worker pool, waiting for a free worker.
func (n *Node) dispatch(handle func(request)) nats.MsgHandler {
	return func(m *nats.Msg) {
		if !n.answers(m) {
			return
		}
		req := request{msg: m, nc: n.nc, ctx: tracing.ExtractNATS(n.ctx, m), received: time.Now()}
		n.pool.run(func() {
			req.queued = time.Since(req.received)
			n.metrics.queued(req.queued.Seconds())
			handle(req)
		})
	}
}

// dispatchWait is dispatch for wait endpoints: each request on a goroutine
// of its own, at most maxWaits at once.
func (n *Node) dispatchWait(handle func(request)) nats.MsgHandler {
	return func(m *nats.Msg) {
		if !n.answers(m) {
			return
		}
		req := request{msg: m, nc: n.nc, ctx: tracing.ExtractNATS(n.ctx, m), received: time.Now()}
		select {
		case n.waits <- struct{}{}:
		default:
			respondErr(req, protocol.CodeUnavailable, fmt.Errorf("the node holds %d waits already", maxWaits))
			return
		}
		go func() {
			defer func() { <-n.waits }()
			handle(req)
		}()
	}
}

// stop drains the subscriptions: the broker forgets them at once, and the
// requests already received are still dispatched. A closed connection has
// nothing left to drain.
func (subs endpoints) stop() error {
	var errs []error
	for _, sub := range subs {
		if err := sub.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("drain %s: %w", sub.Subject, err))
		}
	}
	return errors.Join(errs...)
}
