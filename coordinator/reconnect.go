package coordinator

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// This file handles a broker going away. A request written to the
// coordinator's connection in the instant its broker died is lost, and so
// is an answer on its way back: nothing will ever come for it. Once the
// connection is back (on another broker of the cluster), every request
// that was in flight is sent again, instead of waiting out the deadline.
// A searcher that was on the dead broker has no subscriptions until it is
// on another one: for a moment NATS finds its copies without responders,
// and a shard whose copies are all there is asked again (askLater).

// reconnects tells, by closing a channel, that the coordinator's NATS
// connection was re-established: requests sent before then are lost.
type reconnects struct {
	mu sync.Mutex
	ch chan struct{}
}

// watchReconnects returns a reconnects told by nc's reconnect handler; a
// handler already set keeps being called first.
func watchReconnects(nc *nats.Conn) *reconnects {
	w := &reconnects{ch: make(chan struct{})}
	if nc == nil {
		return w
	}
	prev := nc.Opts.ReconnectedCB
	nc.SetReconnectHandler(func(c *nats.Conn) {
		if prev != nil {
			prev(c)
		}
		w.reconnected()
	})
	return w
}

// next is closed at the next reconnect.
func (w *reconnects) next() <-chan struct{} {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

func (w *reconnects) reconnected() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.ch)
	w.ch = make(chan struct{})
}

// resend sends again every request still in flight: the connection they
// went out on is gone. The lost request leaves no trace in the node's
// latency estimates, and the new one is no hedge and no failover: the
// same copy is asked the same thing.
func (r *attempts[V]) resend(ctx context.Context) {
	lost := r.sent[:len(r.sent):len(r.sent)]
	for _, a := range lost {
		if a.over {
			continue
		}
		a.over = true
		r.pending--
		r.hedge.stats.end(a.node, 0, failed)
		var shards []int
		for _, i := range a.shards {
			s := &r.shards[i]
			s.inflight--
			if !s.done {
				shards = append(shards, i)
			}
		}
		if len(shards) > 0 {
			r.dispatch(ctx, a.node, shards, a.joint, a.kind)
		}
	}
}

// First and longest pause of a shard asked again, its copies all found
// without responders (askLater).
const (
	firstRetryPause = 20 * time.Millisecond
	// reconnectGrace is how long a shard whose copies are all
	// without responders is asked again, when one of them is on a node
	// that beat lately: a client whose broker died is back on another
	// broker in tens of milliseconds (seen: 8 to 26 ms). It is also how
	// much later the shards of a node killed a moment ago fail, which
	// must still be at once for a user (e2e TestReplicasHideKilledSearcher:
	// under a second): asked after 20, 40, 80 and 160 ms.
	reconnectGrace = 300 * time.Millisecond
)

// askLater schedules shard i, whose every copy (its queue group last) was
// just found without responders, to be asked again from its first copy
// after a pause, doubled each round, while its grace lasts and leaves
// half the request's time; it reports false when the shard has no more.
// A searcher whose broker died has lost its subscriptions until it is on
// another broker, so that "no responders" then does not mean gone.
func (r *attempts[V]) askLater(ctx context.Context, i int) bool {
	s := &r.shards[i]
	if s.grace <= 0 {
		return false
	}
	now := time.Now()
	if s.graceEnd.IsZero() {
		s.graceEnd, s.pause = now.Add(s.grace), firstRetryPause
		if dl, ok := ctx.Deadline(); ok {
			s.graceEnd = minTime(s.graceEnd, now.Add(dl.Sub(now)/2))
		}
	}
	at := now.Add(s.pause)
	if at.After(s.graceEnd) {
		return false
	}
	s.pause *= 2
	s.retryAt, s.next = at, 0
	s.due, s.probeAt = time.Time{}, time.Time{}
	r.waiting++
	return true
}

// minTime is the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
