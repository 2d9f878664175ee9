package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// shardOutcome is how one shard fared in a search. A shard answered by its
// node together with others has answered set and res nil: the node's
// merged result sits on the first of them.
type shardOutcome struct {
	node     string
	answered bool
	res      *bleve.SearchResult
	seq      uint64 // the copy's applied stream sequence
	err      error
}

// scatterSearch sends a search (req: the widened bleve request in JSON;
// stats: encoded global statistics or nil) to every shard of def and
// returns one outcome per shard.
//
// Each shard's first-choice copy decides the node it is asked on, and each
// node gets one request naming all its shards; it answers with their
// merged top hits, so a query costs a message and a decode per node rather
// than per shard. A shard its node cannot answer, or every shard of a node
// silent past the hedge wait, is asked of its other copies one by one
// (askSkipping), inside the same deadline.
func (c *Coordinator) scatterSearch(ctx context.Context, def *meta.IndexDef, req, stats json.RawMessage) []shardOutcome {
	outcomes := make([]shardOutcome, def.Shards)
	var groups map[string][]int
	var order []string
	var lone []int // shards with no copy in the map: ask the queue group
	for s := 0; s < def.Shards; s++ {
		nodes := c.copiesOf(def.Name, s)
		if len(nodes) == 0 {
			lone = append(lone, s)
			continue
		}
		if groups == nil {
			groups = make(map[string][]int)
		}
		if groups[nodes[0]] == nil {
			order = append(order, nodes[0])
		}
		groups[nodes[0]] = append(groups[nodes[0]], s)
	}
	job := &searchJob{def: def, req: req, stats: stats, timeout: time.Until(deadlineOf(ctx))}
	job.single = sync.OnceValues(func() ([]byte, error) {
		return json.Marshal(protocol.SearchRequest{Request: req, Stats: stats, Timeout: job.timeout})
	})
	var wg sync.WaitGroup
	for _, node := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.searchNode(ctx, job, node, groups[node], outcomes)
		}()
	}
	for _, s := range lone {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[s] = c.searchCopies(ctx, job, s, "")
		}()
	}
	wg.Wait()
	return outcomes
}

// hasCopyBesides reports whether the map shows a copy of the shard on
// another node than node.
func (c *Coordinator) hasCopyBesides(index string, shard int, node string) bool {
	for _, n := range c.copiesOf(index, shard) {
		if n != node {
			return true
		}
	}
	return false
}

// searchJob is one search as scatterSearch sends it.
type searchJob struct {
	def        *meta.IndexDef
	req, stats json.RawMessage
	timeout    time.Duration
	// single is the per-copy request (protocol.SearchRequest), encoded
	// only if some shard needs it.
	single func() ([]byte, error)
}

// searchCopies asks one shard's copies, skipping node skip.
func (c *Coordinator) searchCopies(ctx context.Context, job *searchJob, shard int, skip string) shardOutcome {
	payload, err := job.single()
	if err != nil {
		return shardOutcome{node: skip, err: fmt.Errorf("encode shard request: %w", err)}
	}
	var resp protocol.SearchReply
	node, err := c.askSkipping(ctx, job.def.Name, shard, protocol.OpSearch, payload, &resp, skip)
	if err == nil && (len(resp.Shards) != 1 || resp.Shards[0].Shard != shard) {
		err = fmt.Errorf("copy on %s answered for other shards than %d", node, shard)
	}
	if err == nil && resp.Shards[0].Code != 0 {
		err = &protocol.ShardError{Code: resp.Shards[0].Code, Description: resp.Shards[0].Error}
	}
	if err != nil {
		return shardOutcome{node: node, err: err}
	}
	return shardOutcome{node: node, answered: true, res: resp.Result, seq: resp.Shards[0].AppliedSeq}
}

// searchNode asks node for shards and fills their outcomes. The first
// complete answer wins for each shard; the node's merged answer is only
// taken while no shard of it has been answered alone (it would count that
// shard's hits twice).
func (c *Coordinator) searchNode(ctx context.Context, job *searchJob, node string, shards []int, outcomes []shardOutcome) {
	nr := protocol.NodeSearchRequest{Index: job.def.Name, UID: job.def.UID, Shards: shards, Request: job.req, Stats: job.stats, Timeout: job.timeout}
	payload, err := nr.AppendBinary(make([]byte, 0, 64+len(job.req)+len(job.stats)))
	if err != nil {
		for _, s := range shards {
			outcomes[s] = shardOutcome{node: node, err: err}
		}
		return
	}
	type nodeAnswer struct {
		msg *nats.Msg
		err error
	}
	fromNode := make(chan nodeAnswer, 2) // the answer, and a probe's verdict
	c.requests.Add(1)
	go func() {
		msg, err := c.nc.RequestWithContext(ctx, protocol.NodeSubject(node, protocol.OpSearch), payload)
		fromNode <- nodeAnswer{msg, err}
	}()

	type alone struct {
		i int
		o shardOutcome
	}
	// The node request ends with the search; fallbacks, rare, end with
	// this function.
	fallbackCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	fromCopies := make(chan alone, len(shards))
	started := make([]bool, len(shards))
	failedAlone := make([]*shardOutcome, len(shards))
	done := make([]bool, len(shards))
	left, inflight := len(shards), 0
	fallBack := func(i int) {
		if started[i] || done[i] {
			return
		}
		started[i] = true
		inflight++
		go func() {
			fromCopies <- alone{i, c.searchCopies(fallbackCtx, job, shards[i], node)}
		}()
	}
	finish := func(i int, o shardOutcome) {
		if done[i] {
			return
		}
		done[i] = true
		left--
		outcomes[shards[i]] = o
	}

	wait := c.opts.HedgeAfter
	if wait <= 0 {
		wait = job.timeout / 4
	}
	hedge := time.NewTimer(wait)
	defer hedge.Stop()
	nodePending, aloneAnswered := true, false
	for left > 0 && (nodePending || inflight > 0) {
		select {
		case <-hedge.C:
			// Hedge the shards that have another copy; if some have
			// none, ask whether the node is still there rather than
			// send it the same work twice.
			alone := false
			for i := range shards {
				if !c.hasCopyBesides(job.def.Name, shards[i], node) {
					alone = true
					continue
				}
				if !started[i] {
					c.hedges.Add(1)
				}
				fallBack(i)
			}
			if alone && nodePending {
				c.probe(ctx, node, job.def.Name, shards[0], func() {
					fromNode <- nodeAnswer{err: nats.ErrNoResponders}
				})
			}
		case a := <-fromNode:
			if !nodePending {
				continue // the probe found the node gone; then it answered after all
			}
			nodePending = false
			if aloneAnswered {
				continue
			}
			var r protocol.SearchReply
			err := a.err
			if err == nil {
				err = protocol.DecodeReply(a.msg, &r)
			}
			if err == nil && len(r.Shards) != len(shards) {
				err = errors.New("node answered for other shards than asked")
			}
			if err != nil {
				if errors.Is(err, protocol.ErrBadRequest) {
					for i := range shards {
						finish(i, shardOutcome{node: node, err: err})
					}
					return
				}
				for i := range shards {
					fallBack(i)
				}
				continue
			}
			res := r.Result
			for i, st := range r.Shards {
				switch {
				case st.Code == 0 && st.Shard == shards[i]:
					finish(i, shardOutcome{node: node, answered: true, res: res, seq: st.AppliedSeq})
					res = nil // the merged result counts once
				case st.Code == protocol.CodeBadRequest:
					finish(i, shardOutcome{node: node, err: &protocol.ShardError{Code: st.Code, Description: st.Error}})
				default:
					fallBack(i)
				}
			}
		case a := <-fromCopies:
			inflight--
			if a.o.err != nil && nodePending && !errors.Is(a.o.err, nats.ErrNoResponders) {
				// The node may still answer: only "no responders" (no
				// copy serves the shard at all) ends the wait early.
				failedAlone[a.i] = &a.o
				continue
			}
			if a.o.err == nil && !done[a.i] {
				aloneAnswered = true
			}
			finish(a.i, a.o)
		}
	}
	for i := range shards { // the deadline ran out on the node
		if !done[i] && failedAlone[i] != nil {
			finish(i, *failedAlone[i])
		}
		if !done[i] {
			err := ctx.Err()
			if err == nil {
				err = errors.New("no answer")
			}
			finish(i, shardOutcome{node: node, err: err})
		}
	}
}
