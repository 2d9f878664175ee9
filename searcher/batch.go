package searcher

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// How a copy groups the writes of its stream into Bleve batches: one large
// batch costs Bleve far less than many small ones (fewer segments to build,
// persist and merge), so a copy keeps filling a batch while writes keep
// coming, up to DefaultBatchWrites writes or maxBatchBytes of documents.
const (
	// DefaultBatchWrites is the default of Options.BatchSize.
	DefaultBatchWrites = 4096
	// maxBatchBytes bounds the documents of one batch.
	maxBatchBytes = 16 << 20
	// batchIdleLinger is how long a copy whose stream has nothing more
	// pending waits for another write before it applies its batch.
	batchIdleLinger = 250 * time.Millisecond
	// batchMaxLinger is the longest a batch waits from its first write:
	// a write is searchable within about this long.
	batchMaxLinger = time.Second
)

// inMsg is a message of the shard's stream with its metadata, read once.
type inMsg struct {
	msg jetstream.Msg
	// seq is the write's stream sequence and pending what the stream
	// holds after it for the copy; known is false when the metadata
	// could not be read.
	seq, pending uint64
	known        bool
}

// readMessages reads it on a goroutine of its own into msgs (buffered for
// size), telling onDeliver of each message, until it fails (the error goes
// to errc) or ctx ends. stop stops it and waits for the goroutine.
func readMessages(ctx context.Context, it jetstream.MessagesContext, size int, onDeliver func(inMsg)) (msgs <-chan inMsg, errc <-chan error, stop func()) {
	out := make(chan inMsg, size)
	errs := make(chan error, 1)
	done := make(chan struct{})
	// The reader's own context ends with stop, so a reader blocked on a
	// full channel leaves even when the copy goes on (a retry).
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(done)
		for {
			m, err := it.Next()
			if err != nil {
				errs <- err
				return
			}
			if ctx.Err() != nil {
				return // stopped: what it read is not counted as delivered
			}
			in := inMsg{msg: m}
			if md, err := m.Metadata(); err == nil {
				in.seq, in.pending, in.known = md.Sequence.Stream, md.NumPending, true
			}
			onDeliver(in)
			select {
			case out <- in:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Stop does not wait for the reader longer than readerGrace: while
	// the stream is being deleted, the ordered consumer retries creating
	// itself (up to maxResets times) before Next returns, and a copy being
	// dropped must not wait for that. The reader touches nothing but its
	// channels, which it leaves as soon as ctx is done.
	return out, errs, func() {
		cancel()
		it.Stop()
		select {
		case <-done:
		case <-time.After(readerGrace):
		}
	}
}

// nextBatch waits for the next write and appends it to batch, with those
// that follow while they keep coming: at once while the stream has more
// pending, within batchIdleLinger otherwise, and for at most batchMaxLinger
// in all. Someone waiting for the shard to apply a write (WaitApplied: a
// write with refresh=wait_for, a search after a token) ends the wait at
// once. It returns the batch and its last message.
func (r *replica) nextBatch(ctx context.Context, msgs <-chan inMsg, errc <-chan error, batch []Write) ([]Write, inMsg, error) {
	var last inMsg
	select {
	case <-ctx.Done():
		return nil, last, ctx.Err()
	case err := <-errc:
		return nil, last, err
	case last = <-msgs:
	}
	batch = append(batch, r.decodeWrite(last))
	bytes := len(last.msg.Data())
	deadline := time.NewTimer(batchMaxLinger)
	defer deadline.Stop()
	idle := time.NewTimer(batchIdleLinger)
	defer idle.Stop()
	for len(batch) < r.node.opts.BatchSize && bytes < maxBatchBytes {
		select {
		case m := <-msgs:
			batch, last, bytes = append(batch, r.decodeWrite(m)), m, bytes+len(m.msg.Data())
			continue
		default:
		}
		waiting, now := r.shard.Waiting()
		if now || !last.known {
			break
		}
		var idleC <-chan time.Time
		if last.pending == 0 {
			idle.Reset(batchIdleLinger)
			idleC = idle.C
		}
		select {
		case m := <-msgs:
			batch, last, bytes = append(batch, r.decodeWrite(m)), m, bytes+len(m.msg.Data())
		case <-waiting:
			// A waiter who has been served meanwhile left its signal
			// behind: only a waiter still there ends the batch.
			if _, now := r.shard.Waiting(); now {
				return batch, last, nil
			}
		case err := <-errc:
			return nil, last, err // the batch is replayed from the stream
		case <-idleC:
			return batch, last, nil
		case <-deadline.C:
			return batch, last, nil
		case <-ctx.Done():
			return nil, last, ctx.Err()
		}
	}
	return batch, last, nil
}
