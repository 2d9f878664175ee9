package searcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/rewrite"
)

// serve subscribes the copy's endpoints: search, presearch, get and stats
// both in the shard's queue group (any caught-up copy answers) and on the
// copy's own subject, and wait on the copy's subject only.
func (r *replica) serve() error {
	r.subsMu.Lock()
	defer r.subsMu.Unlock()
	if r.subs != nil {
		return nil
	}
	n := r.node
	handlers := map[string]func(request){
		protocol.OpSearch:    r.handleSearch,
		protocol.OpPresearch: r.handlePresearch,
		protocol.OpGet:       r.handleGet,
		protocol.OpStats:     r.handleStats,
	}
	var eps []endpoint
	for op, h := range handlers {
		eps = append(eps,
			endpoint{subject: protocol.ShardSubject(r.def.Name, r.num, op), queue: protocol.QueueGroup, handle: h},
			endpoint{subject: protocol.CopySubject(n.opts.Name, r.def.Name, r.num, op), handle: h})
	}
	eps = append(eps, endpoint{subject: protocol.CopySubject(n.opts.Name, r.def.Name, r.num, protocol.OpWait), handle: r.handleWait, waits: true})
	subs, err := n.subscribe(eps)
	if err != nil {
		return err
	}
	r.subs = subs
	return nil
}

func (r *replica) handleSearch(req request) {
	var sr protocol.SearchRequest
	if err := json.Unmarshal(req.Data(), &sr); err != nil {
		respondErr(req, protocol.CodeBadRequest, fmt.Errorf("decode search request: %w", err))
		return
	}
	breq, stats, err := r.node.prepareSearch(sr.Request, sr.Stats)
	if err != nil {
		respondErr(req, protocol.CodeBadRequest, err)
		return
	}
	ctx, cancel, err := r.node.searchContext(req.ctx, sr.Timeout, sr.ID)
	defer cancel()
	if err == nil {
		err = r.caughtUpTo(ctx, sr.MinSeq, behindWait(sr.Timeout))
	}
	if err != nil {
		respondErr(req, shardCode(err), err)
		return
	}
	res, took, err := r.search(ctx, breq, stats)
	if err != nil {
		respondErr(req, searchErrorCode(ctx), err)
		return
	}
	reply := &protocol.SearchReply{
		Node:   r.node.opts.Name,
		Shards: []protocol.NodeShardStatus{{Shard: r.num, AppliedSeq: r.shard.AppliedSeq()}},
		Result: res,
	}
	if sr.Profile {
		reply.Shards[0].Queue, reply.Shards[0].Search = req.queued, took
		reply.Took = max(time.Since(req.received), time.Nanosecond)
	}
	respondReply(req, reply)
}

// search runs one search on the copy, as a span of its own, and returns
// its result and how long it took.
func (r *replica) search(ctx context.Context, breq *bleve.SearchRequest, stats *Stats) (*bleve.SearchResult, time.Duration, error) {
	ctx, span := r.node.tracer.Start(ctx, "shard search",
		trace.WithAttributes(attribute.String("shoal.node", r.node.opts.Name), attribute.String("shoal.index", r.def.Name), attribute.Int("shoal.shard", r.num)))
	defer span.End()
	start := time.Now()
	res, err := r.shard.Search(ctx, breq, stats)
	took := time.Since(start)
	r.node.metrics.searched(r.def.Name, took.Seconds())
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return res, took, err
}

func (r *replica) handlePresearch(req request) {
	var pr protocol.PresearchRequest
	if err := json.Unmarshal(req.Data(), &pr); err != nil {
		respondErr(req, protocol.CodeBadRequest, fmt.Errorf("decode presearch request: %w", err))
		return
	}
	var q query.Query
	var err error
	if len(pr.Query) > 0 {
		q, err = query.ParseQuery(pr.Query)
		if err == nil {
			q, err = rewrite.Query(q, r.node.opts.QueryLimits)
		}
	}
	if err != nil {
		respondErr(req, protocol.CodeBadRequest, fmt.Errorf("parse query: %w", err))
		return
	}
	ctx, cancel := context.WithTimeout(req.ctx, clampTimeout(pr.Timeout))
	defer cancel()
	ctx, span := r.node.tracer.Start(ctx, "shard presearch",
		trace.WithAttributes(attribute.String("shoal.node", r.node.opts.Name), attribute.String("shoal.index", r.def.Name), attribute.Int("shoal.shard", r.num)))
	defer span.End()
	if err := r.caughtUpTo(ctx, pr.MinSeq, behindWait(pr.Timeout)); err != nil {
		respondErr(req, shardCode(err), err)
		return
	}
	resp, err := r.shard.Presearch(ctx, q, pr.Fields, pr.Have, r.node.opts.QueryLimits.MaxScoredTerms)
	if err != nil {
		code := protocol.CodeBadRequest
		if errors.Is(err, ErrStatsRead) {
			code = protocol.CodeInternal
		}
		respondErr(req, code, err)
		return
	}
	resp.Node = r.node.opts.Name
	respondJSON(req, resp)
}

func (r *replica) handleGet(req request) {
	var gr protocol.GetRequest
	if err := json.Unmarshal(req.Data(), &gr); err != nil {
		respondErr(req, protocol.CodeBadRequest, fmt.Errorf("decode get request: %w", err))
		return
	}
	ctx, cancel := context.WithTimeout(req.ctx, clampTimeout(gr.Timeout))
	defer cancel()
	if err := r.caughtUpTo(ctx, gr.MinSeq, behindWait(gr.Timeout)); err != nil {
		respondErr(req, shardCode(err), err)
		return
	}
	doc, err := r.shard.Get(gr.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		respondJSON(req, protocol.GetResponse{Node: r.node.opts.Name})
	case err != nil:
		respondErr(req, protocol.CodeInternal, err)
	default:
		respondJSON(req, protocol.GetResponse{Node: r.node.opts.Name, Found: true, Doc: doc})
	}
}

func (r *replica) handleStats(req request) {
	respondJSON(req, r.status())
}

func (r *replica) handleWait(req request) {
	var wr protocol.WaitRequest
	if err := json.Unmarshal(req.Data(), &wr); err != nil {
		respondErr(req, protocol.CodeBadRequest, fmt.Errorf("decode wait request: %w", err))
		return
	}
	if wr.Timeout <= 0 || wr.Timeout > 10*time.Minute {
		wr.Timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(r.node.ctx, wr.Timeout)
	defer cancel()
	if err := r.shard.WaitApplied(ctx, wr.Seq); err != nil {
		respondErr(req, protocol.CodeTimeout, fmt.Errorf("wait for seq %d (applied %d): %w", wr.Seq, r.shard.AppliedSeq(), err))
		return
	}
	respondJSON(req, r.status())
}
