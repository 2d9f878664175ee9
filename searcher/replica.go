package searcher

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// apiTimeout bounds each JetStream API request a copy makes.
const apiTimeout = 10 * time.Second

// readerGrace is how long stopping a consumer waits for its reader.
const readerGrace = 100 * time.Millisecond

// maxResets bounds how often the ordered consumer recreates itself after
// an error before it gives up and the copy's own loop opens it again.
const maxResets = 5

// replica is one hosted copy of a shard: it applies the shard's stream to
// its Bleve index and, once caught up, answers requests (handlers.go).
type replica struct {
	node *Node
	def  meta.IndexDef
	num  int
	// prefix is the subject prefix of this shard's writes.
	prefix string
	dir    string
	shard  *Shard
	cancel context.CancelFunc
	done   chan struct{}

	// streamPending is the stream's count of writes after the last one
	// delivered to the copy; unapplied counts those delivered but not yet
	// applied. Their sum is how far the copy is behind its stream, also
	// while it does not apply (Faults.PauseConsumers).
	streamPending atomic.Uint64
	unapplied     atomic.Int64
	caughtUp      atomic.Bool
	// rejected counts the writes this copy could not apply.
	rejected atomic.Uint64
	subsMu   sync.Mutex
	subs     endpoints // nil until caught up
}

func (r *replica) status() meta.CopyStatus {
	docs, _ := r.shard.Docs()
	st := meta.CopyStatus{
		Index:      r.def.Name,
		Shard:      r.num,
		Node:       r.node.opts.Name,
		Docs:       docs,
		AppliedSeq: r.shard.AppliedSeq(),
		Pending:    r.pendingWrites(),
		CaughtUp:   r.caughtUp.Load(),
		Rejected:   r.rejected.Load(),
	}
	st.Fields, st.FieldsTruncated = r.shard.Fields()
	return st
}

// pendingWrites is how many writes of its stream the copy has not applied.
func (r *replica) pendingWrites() uint64 {
	return r.streamPending.Load() + uint64(max(r.unapplied.Load(), 0))
}

// delivered counts a write delivered to the copy, which has not applied it
// yet, and what the stream holds after it.
func (r *replica) delivered(m inMsg) {
	r.unapplied.Add(1)
	if m.known {
		r.streamPending.Store(m.pending)
	}
}

// stop stops the consumer and the copy's endpoints, and closes its index.
func (r *replica) stop() error {
	r.stopServing()
	r.cancel()
	<-r.done
	return r.shard.Close()
}

// stopServing removes the copy's endpoints, so it answers no more
// requests; the consumer goes on until stop.
func (r *replica) stopServing() {
	r.subsMu.Lock()
	defer r.subsMu.Unlock()
	if r.subs != nil {
		r.subs.stop()
		r.subs = nil
	}
}

// run applies the shard's stream until ctx ends, reconnecting the consumer
// after errors.
func (r *replica) run(ctx context.Context) {
	defer close(r.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := r.consume(ctx)
		if ctx.Err() != nil {
			return
		}
		r.node.log.Warn("shard consumer stopped; retrying", "index", r.def.Name, "shard", r.num, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
}

// consume applies the shard's stream, from the write after the last one
// applied, in batches, until ctx ends or the consumer fails.
func (r *replica) consume(ctx context.Context) error {
	it, err := r.openConsumer(ctx)
	if err != nil {
		return err
	}
	msgs, errc, stopReading := readMessages(ctx, it, r.node.opts.BatchSize, r.delivered)
	defer stopReading()
	batch := make([]Write, 0, r.node.opts.BatchSize)
	for {
		var last inMsg
		if batch, last, err = r.nextBatch(ctx, msgs, errc, batch[:0]); err != nil {
			return err
		}
		// A consumer paused by Faults.PauseConsumers waits here.
		if err := r.node.faults.pause.wait(ctx); err != nil {
			return err
		}
		rejected, err := r.shard.Apply(ctx, batch)
		if err != nil {
			r.node.metrics.applyFailed(r.def.Name, 1)
			return err
		}
		r.unapplied.Add(-int64(len(batch)))
		r.reportRejected(rejected)
		clear(batch) // the documents are Bleve's now
		if last.known && last.pending == 0 {
			r.markCaughtUp()
		}
	}
}

// openConsumer starts an ordered consumer of the shard's writes after the
// last one applied, records how many are pending (marking the copy caught
// up if none), and returns its message iterator.
func (r *replica) openConsumer(ctx context.Context) (jetstream.MessagesContext, error) {
	// Every JetStream API call gets a deadline: a reply lost while the
	// broker restarts would otherwise block this copy forever (the ordered
	// consumer's Info, for one, waits as long as its context).
	apiCtx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	stream, err := r.node.js.Stream(apiCtx, protocol.StreamName(r.def.Name))
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:   []string{protocol.IngestShardFilter(r.def.Name, r.def.UID, r.num)},
		DeliverPolicy:    jetstream.DeliverAllPolicy,
		MaxResetAttempts: maxResets,
	}
	if applied := r.shard.AppliedSeq(); applied > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = applied + 1
	}
	cons, err := stream.OrderedConsumer(apiCtx, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	info, err := cons.Info(apiCtx)
	if err != nil {
		return nil, fmt.Errorf("consumer info: %w", err)
	}
	r.streamPending.Store(info.NumPending)
	r.unapplied.Store(0)
	if info.NumPending == 0 {
		r.markCaughtUp()
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * r.node.opts.BatchSize))
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	return it, nil
}

// decodeWrite turns a stream message into a write. The id comes from the
// subject, byte for byte; a write whose id does not hash to this shard is
// marked, never applied.
func (r *replica) decodeWrite(in inMsg) Write {
	m := in.msg
	w := Write{Op: m.Headers().Get(protocol.HeaderOp), Doc: m.Data(), Seq: in.seq}
	w.ID, w.Err = protocol.IngestID(m.Subject(), r.prefix)
	if w.Err == nil {
		if s := meta.ShardOf(w.ID, r.def.Shards); s != r.num {
			w.Err = fmt.Errorf("id %q belongs to shard %d, not %d", w.ID, s, r.num)
		}
	}
	return w
}

// reportRejected counts and logs the writes a batch could not apply.
func (r *replica) reportRejected(rejected []Rejected) {
	if len(rejected) == 0 {
		return
	}
	r.rejected.Add(uint64(len(rejected)))
	r.node.metrics.applyFailed(r.def.Name, len(rejected))
	for i, w := range rejected {
		if i == 3 {
			r.node.log.Error("more writes rejected in the same batch", "index", r.def.Name, "shard", r.num, "count", len(rejected)-i)
			break
		}
		r.node.log.Error("write rejected", "index", r.def.Name, "shard", r.num, "seq", w.Seq, "id", w.ID, "err", w.Err)
	}
}

// markCaughtUp starts serving queries the first time the copy has applied
// everything in its stream; a copy that is still rebuilding never answers.
func (r *replica) markCaughtUp() {
	if r.caughtUp.Swap(true) {
		return
	}
	if err := r.serve(); err != nil {
		r.node.log.Error("serve copy", "index", r.def.Name, "shard", r.num, "err", err)
		r.caughtUp.Store(false)
	}
}
