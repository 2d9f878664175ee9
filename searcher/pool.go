package searcher

import (
	"context"
	"sync"
)

// pool is the node's bounded set of workers. Requests run on it, and so do
// the per-shard parts of a node search, on workers of their own: a request
// waiting for its parts never holds up the workers that run them. A fixed
// pool keeps its goroutines' grown stacks instead of growing a new one per
// request.
type pool struct {
	ctx       context.Context
	work      chan func() // whole requests
	shardWork chan func() // the per-shard parts of a node request
	wg        sync.WaitGroup
}

// startPool starts size workers for requests and as many for their
// per-shard parts; they run until ctx ends.
func startPool(ctx context.Context, size int) *pool {
	p := &pool{ctx: ctx, work: make(chan func()), shardWork: make(chan func())}
	p.wg.Add(2 * size)
	for range size {
		go p.worker(p.work)
		go p.worker(p.shardWork)
	}
	return p
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

func (p *pool) worker(work <-chan func()) {
	defer p.wg.Done()
	for {
		select {
		case f := <-work:
			f()
		case <-p.ctx.Done():
			return
		}
	}
}
