package coordinator

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"
)

// This file handles the coordinator's own broker going away. A request
// written to a connection in the instant its broker died is lost, and so
// is an answer on its way back: nothing will ever come for it. Once the
// connection is back (on another broker of the cluster), every request
// that was in flight is sent again, instead of waiting out the deadline.

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
