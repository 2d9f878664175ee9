package searcher

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are failures injected into a running node, in-process, by tests
// and the benchmark: a slow node, a node that loses its replies, a node
// whose copies stop applying their streams. No flag, option or message sets
// them; only Go code holding the *Node can (Node.Faults). The zero value
// injects nothing, and a node in service pays one atomic load per check.
type Faults struct {
	searchDelay atomic.Int64 // a time.Duration
	dropReplies atomic.Bool
	pause       gate
}

// Faults returns the node's fault hooks.
func (n *Node) Faults() *Faults { return &n.faults }

// SetSearchDelay delays every search answer of the node (by copy and by
// node) by d; 0 restores them. A search whose timeout ends during the
// delay answers a timeout.
func (f *Faults) SetSearchDelay(d time.Duration) { f.searchDelay.Store(int64(d)) }

// SearchDelay is the delay SetSearchDelay set.
func (f *Faults) SearchDelay() time.Duration { return time.Duration(f.searchDelay.Load()) }

// SetDropReplies makes the node take every request it receives, on any of
// its endpoints, and never answer it, as a node that dies holding them
// would; false restores answers. The broker, which delivered the requests,
// never says "no responders" for them.
func (f *Faults) SetDropReplies(drop bool) { f.dropReplies.Store(drop) }

// PauseConsumers stops every copy on the node from applying writes from its
// stream, until ResumeConsumers: a copy that falls behind. Writes received
// meanwhile wait, and a batch being applied completes.
func (f *Faults) PauseConsumers() { f.pause.close() }

// ResumeConsumers lets the copies apply their streams again.
func (f *Faults) ResumeConsumers() { f.pause.open() }

// SetSearchDelay delays every search answer of the node by d, as
// n.Faults().SetSearchDelay does.
func (n *Node) SetSearchDelay(d time.Duration) { n.faults.SetSearchDelay(d) }

// gate is open unless closed; wait blocks while it is closed.
type gate struct {
	mu     sync.Mutex                    // serialises close and open
	closed atomic.Pointer[chan struct{}] // nil while open; closed when opened again
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed.Load() == nil {
		ch := make(chan struct{})
		g.closed.Store(&ch)
	}
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ch := g.closed.Swap(nil); ch != nil {
		close(*ch)
	}
}

// wait returns when the gate is open, or ctx's error once ctx ends.
func (g *gate) wait(ctx context.Context) error {
	ch := g.closed.Load()
	if ch == nil {
		return nil
	}
	select {
	case <-*ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
