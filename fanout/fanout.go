// Package fanout runs one function per item concurrently under one context,
// and records each item's outcome. It is the one fan-out of Shoal's query
// path (a search over nodes, the statistics of a query, the state of every
// shard copy) and of the indexer's wait for copies to catch up.
//
// An item's failure is data, recorded next to its value, not the group's
// error: the caller decides what a partial answer means. Every call gets
// the group's context, so when that context ends every function is expected
// to return, and Run returns once all of them have.
package fanout

import (
	"context"
	"sync"
	"sync/atomic"
)

// Options shape a fan-out.
type Options struct {
	// Limit bounds how many functions run at once (0: no bound).
	Limit int
	// StopOnFailure cancels the context of the other calls at the first
	// failure, as errgroup.WithContext does; calls not yet started then do
	// not run.
	StopOnFailure bool
}

// Outcome is what the function returned for one item.
type Outcome[R any] struct {
	Value R
	Err   error
	// failed is the rank of this failure in time (1 for the first), or 0.
	failed int64
}

// Outcomes holds one outcome per item, in the order of the items.
type Outcomes[R any] []Outcome[R]

// FirstErr returns the error of the item that failed first in time, or nil
// if none failed. With StopOnFailure that is the cause, not one of the
// cancellations it led to.
func (o Outcomes[R]) FirstErr() error {
	var first *Outcome[R]
	for i := range o {
		if o[i].failed > 0 && (first == nil || o[i].failed < first.failed) {
			first = &o[i]
		}
	}
	if first == nil {
		return nil
	}
	return first.Err
}

// Run calls fn once per item, concurrently (at most opts.Limit at once),
// each with a context derived from ctx, and returns every item's outcome
// once all calls have returned. An item whose call could not start because
// the context ended has that context's error as its outcome.
func Run[T, R any](ctx context.Context, items []T, opts Options, fn func(ctx context.Context, item T) (R, error)) Outcomes[R] {
	out := make(Outcomes[R], len(items))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var failures atomic.Int64
	record := func(i int, v R, err error) {
		out[i] = Outcome[R]{Value: v, Err: err}
		if err != nil {
			out[i].failed = failures.Add(1)
			if opts.StopOnFailure {
				cancel()
			}
		}
	}
	var slots chan struct{}
	if opts.Limit > 0 {
		slots = make(chan struct{}, opts.Limit)
	}
	var wg sync.WaitGroup
	for i, item := range items {
		if slots != nil {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				var zero R
				record(i, zero, ctx.Err())
				continue
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if slots != nil {
				defer func() { <-slots }()
			}
			v, err := fn(ctx, item)
			record(i, v, err)
		}()
	}
	wg.Wait()
	return out
}
