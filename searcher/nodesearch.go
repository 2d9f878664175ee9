package searcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/rank"
	"github.com/shoal-search/shoal/rewrite"
)

// serveNode subscribes the node's own endpoint: one search request for
// several of its shard copies, answered with their merged top hits. The
// coordinator sends each query once per node this way and falls back to
// the per-copy endpoints (which stay) for shards the node cannot answer.
func (n *Node) serveNode() (endpoints, error) {
	subs, err := n.subscribe([]endpoint{{subject: protocol.NodeSubject(n.opts.Name, protocol.OpSearch), handle: n.handleNodeSearch}})
	if err != nil {
		return nil, fmt.Errorf("searcher: node endpoint: %w", err)
	}
	cancel, err := n.serveCancels()
	if err != nil {
		subs.stop()
		return nil, err
	}
	return append(subs, cancel), nil
}

// servedCopy returns the caught-up copy of an index's shard this node
// serves, or nil.
func (n *Node) servedCopy(index, uid string, shard int) *replica {
	n.mu.Lock()
	r := n.copies[copyKey{index, shard}]
	n.mu.Unlock()
	if r == nil || r.def.UID != uid || !r.caughtUp.Load() {
		return nil
	}
	return r
}

// handleNodeSearch searches every shard the request names, in parallel,
// and answers with one status per shard and the merged result of those
// that answered. A shard the node does not serve is reported CodeNotHere
// and the others still answer. A profiled request gets the node's
// timings back.
func (n *Node) handleNodeSearch(req request) {
	var nr protocol.NodeSearchRequest
	if err := nr.UnmarshalBinary(req.Data()); err != nil {
		respondErr(req, protocol.CodeBadRequest, fmt.Errorf("decode node search request: %w", err))
		return
	}
	ctx, span := n.tracer.Start(req.ctx, "node search", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("shoal.node", n.opts.Name), attribute.String("shoal.index", nr.Index), attribute.IntSlice("shoal.shards", nr.Shards)))
	defer span.End()
	breq, stats, err := n.prepareSearch(nr.Request, nr.Stats)
	if err != nil {
		respondErr(req, protocol.CodeBadRequest, err)
		return
	}
	ctx, cancel, err := n.searchContext(ctx, nr.Timeout, nr.ID)
	defer cancel()
	if err != nil {
		respondErr(req, protocol.CodeTimeout, err)
		return
	}
	statuses, results := n.searchShards(ctx, &nr, breq, stats, req.queued)
	answered := results[:0:0]
	for _, res := range results {
		if res != nil {
			answered = append(answered, res)
		}
	}
	reply := &protocol.SearchReply{Node: n.opts.Name, Shards: statuses, Result: rank.Merge(breq, answered)}
	if nr.Profile {
		reply.Took = max(time.Since(req.received), time.Nanosecond)
	}
	respondReply(req, reply)
}

// searchShards searches the shards nr names in parallel, the first on this
// goroutine and the others on the pool's shard workers, and returns a
// status and a result (nil if it failed) for each. queued is how long the
// request waited for its worker, part of every shard's queue time.
func (n *Node) searchShards(ctx context.Context, nr *protocol.NodeSearchRequest, breq *bleve.SearchRequest, stats *Stats, queued time.Duration) ([]protocol.NodeShardStatus, []*bleve.SearchResult) {
	statuses := make([]protocol.NodeShardStatus, len(nr.Shards))
	results := make([]*bleve.SearchResult, len(nr.Shards))
	var wg sync.WaitGroup
	for i := 1; i < len(nr.Shards); i++ {
		wg.Add(1)
		handed := time.Now()
		if !n.pool.runPart(func() {
			defer wg.Done()
			statuses[i].Queue = queued + time.Since(handed)
			results[i] = n.searchShard(ctx, nr, breq, stats, &statuses[i], i)
		}) {
			wg.Done()
			statuses[i] = protocol.NodeShardStatus{Shard: nr.Shards[i], Code: protocol.CodeUnavailable, Error: "node closing"}
		}
	}
	if len(nr.Shards) > 0 {
		statuses[0].Queue = queued
		results[0] = n.searchShard(ctx, nr, breq, stats, &statuses[0], 0)
	}
	wg.Wait()
	if !nr.Profile { // timings travel only to those who asked
		for i := range statuses {
			statuses[i].Queue = 0
		}
	}
	return statuses, results
}

// searchShard searches one shard of a node request and fills in its
// status; it returns the result, or nil if the shard did not answer.
func (n *Node) searchShard(ctx context.Context, nr *protocol.NodeSearchRequest, breq *bleve.SearchRequest, stats *Stats, st *protocol.NodeShardStatus, i int) *bleve.SearchResult {
	st.Shard = nr.Shards[i]
	r := n.servedCopy(nr.Index, nr.UID, st.Shard)
	if r == nil {
		st.Code, st.Error = protocol.CodeNotHere, "shard not served by this node"
		return nil
	}
	if nr.MinSeqs != nil {
		if err := r.caughtUpTo(ctx, nr.MinSeqs[i], behindWait(nr.Timeout)); err != nil {
			st.AppliedSeq, st.Code, st.Error = r.shard.AppliedSeq(), shardCode(err), err.Error()
			return nil
		}
	}
	st.AppliedSeq = r.shard.AppliedSeq()
	// Each shard needs its own request: it sets its statistics on it, and
	// a sort order keeps per-search state (as Bleve's alias copies it for
	// each index).
	sreq := *breq
	sreq.PreSearchData = nil
	sreq.Sort = breq.Sort.Copy()
	res, took, err := r.search(ctx, &sreq, stats)
	if nr.Profile {
		st.Search = took
	}
	if err != nil {
		st.Code, st.Error = searchErrorCode(ctx), err.Error()
		return nil
	}
	return res
}

// prepareSearch decodes a search's bleve request, with its query strings
// parsed, and its global statistics. Its errors are the request's fault.
func (n *Node) prepareSearch(request json.RawMessage, stats []byte) (*bleve.SearchRequest, *Stats, error) {
	breq := new(bleve.SearchRequest)
	if err := json.Unmarshal(request, breq); err != nil {
		return nil, nil, fmt.Errorf("decode bleve request: %w", err)
	}
	q, err := rewrite.Query(breq.Query, n.opts.QueryLimits)
	if err != nil {
		return nil, nil, fmt.Errorf("parse query: %w", err)
	}
	breq.Query = q
	st, err := n.stats.decode(stats)
	if err != nil {
		return nil, nil, err
	}
	return breq, st, nil
}

// searchContext bounds a search, under parent (the node's context with the
// request's trace), by its timeout (searchTimeout when none or more),
// registers it under id so its coordinator can cancel it, and waits out
// the node's injected delay (Faults.SetSearchDelay). It fails if the
// search was cancelled already, or if the delay outlasts the timeout or a
// cancel comes during it. The returned function, always set, ends the
// search's registration and context.
func (n *Node) searchContext(parent context.Context, timeout time.Duration, id string) (context.Context, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(parent, clampTimeout(timeout))
	if !n.cancels.begin(id, cancel) {
		cancel()
		return ctx, cancel, errCancelled
	}
	done := func() {
		n.cancels.end(id)
		cancel()
	}
	if d := n.faults.SearchDelay(); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx, done, ctx.Err()
		}
	}
	return ctx, done, nil
}

// behindWait is how long a copy behind a request's minimum sequence waits
// to catch up before it answers CodeBehind: half of the request's time, so
// that another copy can still be asked.
func behindWait(timeout time.Duration) time.Duration {
	return clampTimeout(timeout) / 2
}

// clampTimeout is a request's timeout, searchTimeout when it has none or
// asks for more.
func clampTimeout(timeout time.Duration) time.Duration {
	if timeout <= 0 || timeout > searchTimeout {
		return searchTimeout
	}
	return timeout
}

// caughtUpTo returns once the copy has applied seq (0: at once), waiting
// for at most wait. A copy still behind then answers a *ShardError with
// CodeBehind; ctx's error comes back if it ends first.
func (r *replica) caughtUpTo(ctx context.Context, seq uint64, wait time.Duration) error {
	if seq == 0 || r.shard.AppliedSeq() >= seq {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := r.shard.WaitApplied(wctx, seq); err == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return &protocol.ShardError{Code: protocol.CodeBehind, Description: fmt.Sprintf(
		"copy on %s has applied sequence %d, not yet %d", r.node.opts.Name, r.shard.AppliedSeq(), seq)}
}

// shardCode is the code a shard answers with for err: a shard error's own
// code, else a timeout.
func shardCode(err error) int {
	var se *protocol.ShardError
	if errors.As(err, &se) {
		return se.Code
	}
	return protocol.CodeTimeout
}

// searchErrorCode is the code a failed shard search answers with: a
// timeout if its context ended, else the request's fault.
func searchErrorCode(ctx context.Context) int {
	if ctx.Err() != nil {
		return protocol.CodeTimeout
	}
	return protocol.CodeBadRequest
}
