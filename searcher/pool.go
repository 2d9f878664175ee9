package searcher

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// pool is the node's bounded set of workers. Requests run on it, and so do
// the per-shard parts of a node search, on workers of their own: a request
// waiting for its parts never holds up the workers that run them. A fixed
// pool keeps its goroutines' grown stacks instead of growing a new one per
// request.
type pool struct {
	ctx       context.Context
	size      int
	work      chan func() // whole requests
	shardWork chan func() // the per-shard parts of a node request
	wg        sync.WaitGroup

	busy atomic.Int32 // request workers running a request
	// fullSince is when every request worker became busy (UnixNano), 0
	// while one is free.
	fullSince atomic.Int64
}

// startPool starts size workers for requests and as many for their
// per-shard parts; they run until ctx ends.
func startPool(ctx context.Context, size int) *pool {
	p := &pool{ctx: ctx, size: size, work: make(chan func()), shardWork: make(chan func())}
	p.wg.Add(2 * size)
	for range size {
		go p.worker(p.work, true)
		go p.worker(p.shardWork, false)
	}
	return p
}

// fullFor is how long every request worker has been busy (0 while one is
// free): a node full for long cannot take requests.
func (p *pool) fullFor() time.Duration {
	if p == nil {
		return 0
	}
	since := p.fullSince.Load()
	if since == 0 {
		return 0
	}
	return time.Since(time.Unix(0, since))
}

// run hands f to a request worker, waiting for a free one: the caller (a
// subscription's goroutine) is held up, which pushes back on a flood of
// requests. It reports false, and f never runs, if the pool closed first.
func (p *pool) run(f func()) bool {
	select {
	case p.work <- f:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// runPart is run for the per-shard part of a request.
func (p *pool) runPart(f func()) bool {
	select {
	case p.shardWork <- f:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// wait waits until every worker has returned, once the pool's context has
// ended.
func (p *pool) wait() { p.wg.Wait() }

func (p *pool) worker(work <-chan func(), requests bool) {
	defer p.wg.Done()
	for {
		select {
		case f := <-work:
			if !requests {
				f()
				continue
			}
			if p.busy.Add(1) == int32(p.size) {
				p.fullSince.Store(time.Now().UnixNano())
			}
			f()
			p.busy.Add(-1)
			p.fullSince.Store(0)
		case <-p.ctx.Done():
			return
		}
	}
}
