package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

var errNotPlaced = errors.New("shard not placed")

// copiesOf lists the nodes to try for a shard: the caught-up copies on live
// nodes first, rotated so load spreads over them, then copies of unknown
// state or on nodes that stopped beating.
func (c *Coordinator) copiesOf(index string, shard int) []string {
	m := c.cat.ShardMap(index)
	if m == nil || shard >= len(m.Copies) {
		return nil
	}
	var ready, other []string
	for _, n := range m.Copies[shard] {
		if c.cat.Serving(n, index, shard) {
			ready = append(ready, n)
		} else {
			other = append(other, n)
		}
	}
	if len(ready) > 1 {
		k := rand.IntN(len(ready)) // independent per shard and query
		ready = append(ready[k:], ready[:k]...)
	}
	return append(ready, other...)
}

type reply struct {
	i    int // which subject
	node string
	msg  *nats.Msg
	err  error
}

// ask sends one shard request, trying the shard's copies in turn inside
// ctx's deadline: a copy with no responders is skipped at once, and a copy
// silent past HedgeAfter (with hedging off: past a quarter of the time
// left) gets company from the next one, since a copy killed with the
// request in hand, or cut off the network, never answers at all; with no
// copy left, the silent ones are probed and those gone count as failed.
// After the named copies comes the shard's queue group, for a copy the map
// does not show yet; "no responders" there ends the wait. The first good
// answer wins. It returns the node that answered (or was tried last).
func (c *Coordinator) ask(ctx context.Context, index string, shard int, op string, payload []byte, v any) (string, error) {
	return c.askSkipping(ctx, index, shard, op, payload, v, "")
}

// askSkipping is ask without the copy on node skip (already asked).
func (c *Coordinator) askSkipping(ctx context.Context, index string, shard int, op string, payload []byte, v any, skip string) (string, error) {
	nodes := c.copiesOf(index, shard)
	subjects := make([]string, 0, len(nodes)+1)
	for i := 0; i < len(nodes); i++ {
		if nodes[i] == skip {
			nodes = append(nodes[:i], nodes[i+1:]...)
			i--
			continue
		}
		subjects = append(subjects, protocol.CopySubject(nodes[i], index, shard, op))
	}
	// Any copy that serves the shard but is not in our view of the map.
	subjects = append(subjects, protocol.ShardSubject(index, shard, op))
	nodes = append(nodes, "")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	replies := make(chan reply, len(subjects))
	send := func(i int) {
		c.requests.Add(1)
		go func() {
			msg, err := c.nc.RequestWithContext(ctx, subjects[i], payload)
			replies <- reply{i: i, node: nodes[i], msg: msg, err: err}
		}()
	}
	// Copies gone with the request in hand, found by probe: their own
	// replies, when the deadline ends them, are not counted again.
	gone := make([]bool, len(subjects))
	probes := make(chan int, len(subjects))
	next, inflight := 0, 0
	send(next)
	next++
	inflight++
	wait := c.opts.HedgeAfter
	if dl, ok := ctx.Deadline(); wait <= 0 && ok {
		wait = time.Until(dl) / 4
	}
	var timer *time.Timer
	var hedge <-chan time.Time
	if wait > 0 {
		timer = time.NewTimer(wait)
		defer timer.Stop()
		hedge = timer.C
	}
	lastNode, lastErr := nodes[0], error(nil)
	if lastNode == "" {
		lastNode = skip
	}
	for inflight > 0 {
		select {
		case <-hedge:
			hedge = nil
			if next < len(subjects)-1 { // hedge only to a named copy
				c.hedges.Add(1)
				send(next)
				next++
				inflight++
				timer.Reset(wait)
				hedge = timer.C
				continue
			}
			// No copy left to hedge to: ask the copies in flight whether
			// they still exist, which costs them nothing (a request sent
			// to a copy in the instant it died never hears back).
			for i := 0; i < next; i++ {
				if nodes[i] != "" {
					c.probe(ctx, nodes[i], index, shard, func() { probes <- i })
				}
			}
		case i := <-probes:
			if gone[i] {
				continue
			}
			gone[i] = true
			inflight--
			lastNode, lastErr = nodes[i], nats.ErrNoResponders
			if inflight == 0 && next < len(subjects) {
				send(next)
				next++
				inflight++
			}
		case r := <-replies:
			if gone[r.i] {
				continue
			}
			inflight--
			err := r.err
			if err == nil {
				err = protocol.DecodeReply(r.msg, v)
			}
			if err == nil {
				return r.node, nil
			}
			lastErr = err
			if r.node != "" {
				lastNode = r.node
			}
			if errors.Is(err, protocol.ErrBadRequest) {
				return r.node, err // every copy would say the same
			}
			if r.node == "" && errors.Is(err, nats.ErrNoResponders) {
				return lastNode, err // no copy serves the shard now
			}
			if ctx.Err() != nil {
				continue
			}
			if inflight == 0 && next < len(subjects) {
				send(next)
				next++
				inflight++
			}
		}
	}
	if lastErr == nil {
		lastErr = errNotPlaced
	}
	if ctx.Err() != nil && !errors.Is(lastErr, context.DeadlineExceeded) {
		lastErr = fmt.Errorf("%w (last error: %v)", context.DeadlineExceeded, lastErr)
	}
	return lastNode, lastErr
}

// probe asks whether node still serves its copy of the shard, with the
// copy's cheapest request, and calls gone if NATS says no responders.
func (c *Coordinator) probe(ctx context.Context, node, index string, shard int, gone func()) {
	go func() {
		_, err := c.nc.RequestWithContext(ctx, protocol.CopySubject(node, index, shard, protocol.OpStats), nil)
		if errors.Is(err, nats.ErrNoResponders) {
			gone()
		}
	}()
}

// globalStats returns the index-wide statistics q touches, from the cache
// or by a presearch to every shard. Shards that fail the presearch are
// simply not counted; the search that follows reports them.
func (c *Coordinator) globalStats(ctx context.Context, def *meta.IndexDef, q interface{}) (json.RawMessage, string, error) {
	qraw, err := json.Marshal(q)
	if err != nil {
		return nil, "", &RequestError{Type: "invalid_request", Err: fmt.Errorf("encode query: %w", err)}
	}
	key := def.Name + "\x00" + def.UID + "\x00" + string(qraw)
	if st := c.cache.get(key); st != nil {
		return st, key, nil
	}
	v, err, _ := c.sf.Do(key, func() (any, error) {
		// Statistics are worth at most half of the time: a shard whose
		// copies are all silent must leave the search time to answer with
		// the others.
		ctx := ctx
		if dl, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Until(dl)/2)
			defer cancel()
		}
		type res struct {
			pr  protocol.PresearchResponse
			err error
		}
		results := make([]res, def.Shards)
		done := make(chan struct{}, def.Shards)
		for s := 0; s < def.Shards; s++ {
			go func(s int) {
				payload, err := json.Marshal(protocol.PresearchRequest{Query: qraw, Have: c.terms.have(def.UID, s)})
				if err == nil {
					_, err = c.ask(ctx, def.Name, s, protocol.OpPresearch, payload, &results[s].pr)
				}
				for f, raw := range results[s].pr.FieldTerms {
					if err == nil {
						err = c.terms.put(def.UID, s, f, results[s].pr.AppliedSeq, raw)
					}
				}
				results[s].err = err
				done <- struct{}{}
			}(s)
		}
		for s := 0; s < def.Shards; s++ {
			<-done
		}
		total := &protocol.GlobalStats{}
		seqs := make(map[int]uint64, def.Shards)
		complete := true
		for s, r := range results {
			if r.err != nil {
				var se *protocol.ShardError
				if errors.As(r.err, &se) && se.Code == protocol.CodeBadRequest {
					return nil, &RequestError{Type: "search_error", Err: errors.New(se.Description)}
				}
				complete = false
				continue
			}
			total.Add(&r.pr.Stats)
			seqs[s] = r.pr.AppliedSeq
		}
		// Bleve's field "cardinality" counts distinct terms: take the
		// union over the shards that answered.
		var answered []int
		for s, r := range results {
			if r.err == nil {
				answered = append(answered, s)
			}
		}
		for f := range total.Fields {
			if n, ok := c.terms.distinct(def.UID, answered, f); ok {
				total.Fields[f] = n
			}
		}
		if len(answered) == 0 {
			// No statistics at all: let each shard score with its own.
			return json.RawMessage(nil), nil
		}
		// Encoded once: every shard of every search that reuses them
		// gets these bytes.
		raw, err := json.Marshal(total)
		if err != nil {
			return nil, fmt.Errorf("encode statistics: %w", err)
		}
		if complete {
			c.cache.put(key, raw, seqs)
		}
		return json.RawMessage(raw), nil
	})
	if err != nil {
		return nil, "", err
	}
	return v.(json.RawMessage), key, nil
}
