package searcher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/protocol"
)

// errCancelled is the error of a search its coordinator cancelled before
// it started.
var errCancelled = errors.New("search cancelled by its coordinator")

// cancels are the node's searches by request id, so that a coordinator
// that no longer waits for one (another copy answered first, or its
// client went away) can stop it: a cancel for a running search ends its
// context, and one that arrives first (the request still queued for a
// worker) is remembered, so the search never starts.
type cancels struct {
	mu      sync.Mutex
	running map[string]context.CancelFunc
	early   map[string]time.Time // cancelled before they started
	stopped atomic.Uint64
}

// earlyLimit bounds the ids of cancels that came before their search;
// earlyTTL is how long one is kept.
const (
	earlyLimit = 4096
	earlyTTL   = time.Minute
)

func newCancels() *cancels {
	return &cancels{running: map[string]context.CancelFunc{}, early: map[string]time.Time{}}
}

// begin registers the search id, whose context cancel ends; it reports
// false if the search was cancelled already. An empty id is never
// cancelled.
func (c *cancels) begin(id string, cancel context.CancelFunc) bool {
	if id == "" {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.early[id]; ok {
		delete(c.early, id)
		c.stopped.Add(1)
		return false
	}
	c.running[id] = cancel
	return true
}

// end forgets the search id once it has answered.
func (c *cancels) end(id string) {
	if id == "" {
		return
	}
	c.mu.Lock()
	delete(c.running, id)
	c.mu.Unlock()
}

// cancel stops the search id, now or, if it has not begun, when it does.
func (c *cancels) cancel(id string) {
	if id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if stop, ok := c.running[id]; ok {
		delete(c.running, id)
		stop()
		c.stopped.Add(1)
		return
	}
	now := time.Now()
	if len(c.early) >= earlyLimit {
		for k, at := range c.early {
			if now.Sub(at) > earlyTTL || len(c.early) >= earlyLimit {
				delete(c.early, k)
			}
		}
	}
	c.early[id] = now
}

// serveCancels subscribes the node's cancel subject. Cancels are handled
// on the subscription's own goroutine, not the worker pool: a pool busy
// with the very searches to stop must not hold them up.
func (n *Node) serveCancels() (*nats.Subscription, error) {
	sub, err := n.nc.Subscribe(protocol.NodeSubject(n.opts.Name, protocol.OpCancel), func(m *nats.Msg) {
		n.cancels.cancel(string(m.Data))
	})
	if err != nil {
		return nil, fmt.Errorf("searcher: cancel endpoint: %w", err)
	}
	return sub, nil
}

// CancelledSearches counts the searches on this node that a coordinator
// cancelled while they ran or before they started: work stopped because
// nobody waited for its answer any more.
func (n *Node) CancelledSearches() uint64 { return n.cancels.stopped.Load() }

// CancellableSearches is the number of searches running on this node that
// a coordinator could cancel (those whose request carries an id).
func (n *Node) CancellableSearches() int {
	n.cancels.mu.Lock()
	defer n.cancels.mu.Unlock()
	return len(n.cancels.running)
}
