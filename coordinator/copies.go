package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/tracing"
)

// This file is the wire under attempts: how a request reaches a node or a
// shard copy over NATS, and how its answer becomes a status per shard.

// natsCopies is what the copies of an index share over NATS: the
// connection, the count of requests sent and the probe for a gone copy.
type natsCopies struct {
	nc     *nats.Conn
	index  string
	sent   *atomic.Uint64
	tracer trace.Tracer
	conn   *reconnects
	// charge, if set, is told the size of every reply before it is
	// decoded, and may refuse it.
	charge func(n int) error
}

// natsCopies are c's copies of index.
func (c *Coordinator) natsCopies(index string) natsCopies {
	return natsCopies{nc: c.nc, index: index, sent: &c.requests, tracer: c.tracer, conn: c.reconnects}
}

// requestIDs names the requests a coordinator may cancel: a random prefix
// of its own and a counter.
type requestIDs struct {
	prefix string
	n      *atomic.Uint64
}

func newRequestIDs() requestIDs {
	var b [9]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return requestIDs{prefix: base64.RawURLEncoding.EncodeToString(b[:]) + ".", n: new(atomic.Uint64)}
}

func (r requestIDs) next() string { return r.prefix + strconv.FormatUint(r.n.Add(1), 36) }

// cancelOnAbandon tells node to stop the request id when the answer is no
// longer awaited: ctx was cancelled (another copy answered first, or the
// search ended, or its client went away) before the answer came. A
// request that ran out of time ends on the node by its own timeout.
func (s *searchCopies) cancelOnAbandon(ctx context.Context, node, id string, err error) {
	if err == nil || node == "" || !errors.Is(ctx.Err(), context.Canceled) {
		return
	}
	s.job.cancels.Add(1)
	_ = s.nc.Publish(protocol.NodeSubject(node, protocol.OpCancel), []byte(id))
}

// request sends payload to subject and decodes the answer into v. The
// request is a span of its own, whose context travels in the message's
// headers (traceparent) to become the parent of the node's spans.
func (n natsCopies) request(ctx context.Context, subject string, payload []byte, v any) error {
	n.sent.Add(1)
	ctx, span := n.tracer.Start(ctx, "request "+subject, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", subject)))
	defer span.End()
	req := &nats.Msg{Subject: subject, Data: payload}
	tracing.InjectNATS(ctx, req)
	msg, err := n.nc.RequestMsgWithContext(ctx, req)
	if err == nil && n.charge != nil {
		err = n.charge(len(msg.Data))
	}
	if err == nil {
		err = protocol.DecodeReply(msg, v)
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// copySubject is the subject of node's copy of shard for op; node "" is
// the shard's queue group.
func (n natsCopies) copySubject(node string, shard int, op string) string {
	if node == "" {
		return protocol.ShardSubject(n.index, shard, op)
	}
	return protocol.CopySubject(node, n.index, shard, op)
}

// gone asks node's copy of shard its cheapest request: NATS answers "no
// responders" if the copy is no longer there.
func (n natsCopies) gone(ctx context.Context, node string, shard int) bool {
	_, err := n.nc.RequestWithContext(ctx, protocol.CopySubject(node, n.index, shard, protocol.OpStats), nil)
	return errors.Is(err, nats.ErrNoResponders)
}

func (n natsCopies) reconnected() <-chan struct{} { return n.conn.next() }

// shardCopies asks one shard's copies a request with one answer per copy
// (presearch, get), decoded into a V.
type shardCopies[V any] struct {
	natsCopies
	op      string
	payload []byte
}

func (s shardCopies[V]) askNode(context.Context, string, []int) (answer[V], error) {
	return answer[V]{}, fmt.Errorf("%s has no request for a whole node", s.op)
}

func (s shardCopies[V]) askCopy(ctx context.Context, node string, shard int) (answer[V], error) {
	var v V
	if err := s.request(ctx, s.copySubject(node, shard, s.op), s.payload, &v); err != nil {
		return answer[V]{}, err
	}
	return answer[V]{value: v, shards: []shardStatus{{}}}, nil
}

// askShard asks the copies of one shard of index fit for f for op, with
// failover and hedging (see attempts), and returns the first good answer
// and the copy that gave it (or the copy tried last).
func askShard[V any](ctx context.Context, c *Coordinator, index string, shard int, op string, payload []byte, f freshness) (V, string, error) {
	cp := shardCopies[V]{natsCopies: c.natsCopies(index), op: op, payload: payload}
	plan := c.planShard(index, shard, f)
	o := newAttempts[V](cp, c.hedging(ctx), "", []shardPlan{plan}).run(ctx)[0]
	return o.value, o.node, o.err
}

// searchCopies asks for a search: a node for all the shards it holds in
// one binary request, or one copy for its shard.
type searchCopies struct {
	natsCopies
	job *searchJob
}

func (s *searchCopies) askNode(ctx context.Context, node string, shards []int) (answer[*bleve.SearchResult], error) {
	j := s.job
	nr := protocol.NodeSearchRequest{Index: j.def.Name, UID: j.def.UID, Shards: shards, Request: j.req, Stats: j.stats, Timeout: j.timeout, Profile: j.profile, ID: j.ids.next()}
	if len(j.after) > 0 {
		nr.MinSeqs = make([]uint64, len(shards))
		for i, sh := range shards {
			nr.MinSeqs[i] = j.after[sh]
		}
	}
	payload, err := nr.AppendBinary(make([]byte, 0, 64+len(j.req)+len(j.stats)))
	if err != nil {
		return answer[*bleve.SearchResult]{}, fmt.Errorf("encode node request: %w", err)
	}
	var r protocol.SearchReply
	err = s.request(ctx, protocol.NodeSubject(node, protocol.OpSearch), payload, &r)
	s.cancelOnAbandon(ctx, node, nr.ID, err)
	if err != nil {
		return answer[*bleve.SearchResult]{}, err
	}
	if len(r.Shards) != len(shards) {
		return answer[*bleve.SearchResult]{}, errors.New("node answered for other shards than asked")
	}
	return answer[*bleve.SearchResult]{value: r.Result, shards: statuses(r.Shards, shards), from: r.Node, took: r.Took}, nil
}

func (s *searchCopies) askCopy(ctx context.Context, node string, shard int) (answer[*bleve.SearchResult], error) {
	j := s.job
	stats, err := j.statsJSON()
	if err != nil {
		return answer[*bleve.SearchResult]{}, err
	}
	sr := protocol.SearchRequest{Request: j.req, Stats: stats, Timeout: j.timeout, Profile: j.profile, MinSeq: j.after[shard]}
	if node != "" { // a request to the queue group cannot be cancelled: no one knows its node
		sr.ID = j.ids.next()
	}
	payload, err := json.Marshal(sr)
	if err != nil {
		return answer[*bleve.SearchResult]{}, fmt.Errorf("encode shard request: %w", err)
	}
	var r protocol.SearchReply
	err = s.request(ctx, s.copySubject(node, shard, protocol.OpSearch), payload, &r)
	s.cancelOnAbandon(ctx, node, sr.ID, err)
	if err != nil {
		return answer[*bleve.SearchResult]{}, err
	}
	if len(r.Shards) != 1 {
		return answer[*bleve.SearchResult]{}, fmt.Errorf("copy on %s answered for other shards than %d", node, shard)
	}
	return answer[*bleve.SearchResult]{value: r.Result, shards: statuses(r.Shards, []int{shard}), from: r.Node, took: r.Took}, nil
}

// statsJSON is the JSON form of binary statistics (nil for none), as a
// request to one copy carries them.
func statsJSON(raw []byte) (json.RawMessage, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	st, err := protocol.DecodeGlobalStats(raw)
	if err != nil {
		return nil, fmt.Errorf("encode shard request: %w", err)
	}
	out, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode shard request: %w", err)
	}
	return out, nil
}

// statuses turns the shard statuses of a search reply into shard
// statuses: a shard answered with an error code, or another shard than
// asked, has not answered.
func statuses(got []protocol.NodeShardStatus, asked []int) []shardStatus {
	out := make([]shardStatus, len(got))
	for i, st := range got {
		out[i].seq, out[i].queue, out[i].search = st.AppliedSeq, st.Queue, st.Search
		switch {
		case st.Code != 0:
			out[i].err = &protocol.ShardError{Code: st.Code, Description: st.Error}
		case st.Shard != asked[i]:
			out[i].err = fmt.Errorf("answered for shard %d, asked for %d", st.Shard, asked[i])
		}
	}
	return out
}
