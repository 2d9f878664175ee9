package bulkload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/shoal-search/shoal/corpus"
)

// batch is a run of documents of one file, sent as one bulk request (or
// split further if the server finds it too large).
type batch struct {
	done    chan struct{} // closed once the collector has recorded the outcome
	file    int           // index into loadRun.files
	lines   []uint32      // file line of each document
	ids     []string      // id of each document
	ends    []int         // end offset in body of each document's line
	body    []byte        // NDJSON
	invalid []rejected
}

// rejected is a document that failed, with its file line.
type rejected struct {
	line uint32
	id   string
	err  string
}

// outcome is what became of a batch.
type outcome struct {
	b                *batch
	indexed, deleted int
	failed           int
	rejected         []rejected // failures with details, including b.invalid
}

func newBatch(file int) *batch {
	return &batch{file: file, done: make(chan struct{})}
}

// bodyOf returns the NDJSON of documents idx, without copying when they
// are consecutive.
func (b *batch) bodyOf(idx []int) []byte {
	first, last := idx[0], idx[len(idx)-1]
	start := 0
	if first > 0 {
		start = b.ends[first-1]
	}
	if last-first == len(idx)-1 {
		return b.body[start:b.ends[last]]
	}
	var out []byte
	for _, j := range idx {
		s := 0
		if j > 0 {
			s = b.ends[j-1]
		}
		out = append(out, b.body[s:b.ends[j]]...)
	}
	return out
}

// orderGuard keeps writes to one id in file order although batches are
// sent in parallel: a document whose id is in a batch still in flight
// waits until that batch is finished. Ids of finished batches are pruned
// as the map grows, so it holds about the in-flight documents only.
type orderGuard struct {
	last  map[string]*batch // the latest batch holding each id
	limit int               // prune when the map grows past this
	floor int
}

func newOrderGuard(floor int) *orderGuard {
	return &orderGuard{last: make(map[string]*batch), limit: floor, floor: floor}
}

// inFlight returns the unfinished batch other than cur holding id, or nil.
func (g *orderGuard) inFlight(id string, cur *batch) *batch {
	b, ok := g.last[id]
	if !ok || b == cur || isDone(b) {
		return nil
	}
	return b
}

// add records that b holds id.
func (g *orderGuard) add(id string, b *batch) {
	g.last[id] = b
	if len(g.last) <= g.limit {
		return
	}
	for id, b := range g.last {
		if isDone(b) {
			delete(g.last, id)
		}
	}
	g.limit = max(g.floor, 2*len(g.last))
}

func isDone(b *batch) bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// produce reads the input files in order and sends batches to out.
func (r *loadRun) produce(ctx context.Context, out chan<- *batch) error {
	var guard *orderGuard
	if r.opts.Concurrency > 1 {
		// Batches in flight: one per worker, the channel's, the one
		// being built.
		guard = newOrderGuard(2 * (2*r.opts.Concurrency + 2) * r.opts.BatchDocs)
	}
	var base int64 // bytes of the files already read
	for i := range r.files {
		n, err := r.produceFile(ctx, i, base, guard, out)
		if err != nil {
			return err
		}
		base += n
	}
	return nil
}

// produceFile batches the documents of file i, returning the file's size
// as read.
func (r *loadRun) produceFile(ctx context.Context, i int, base int64, guard *orderGuard, out chan<- *batch) (int64, error) {
	in := &r.files[i]
	f, err := corpus.OpenFile(in.path)
	if err != nil {
		return 0, fmt.Errorf("bulkload: %w", err)
	}
	defer f.Close() // read-only: a close error changes nothing

	rd := corpus.NewReader(f, corpus.ReaderOptions{IDField: r.opts.IDField, MaxLineBytes: r.opts.MaxLineBytes})
	bt := &batcher{opts: r.opts, file: i, guard: guard, out: out, b: newBatch(i)}
	for {
		d, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("bulkload: %s: %w", in.path, err)
		}
		r.bytesRead.Store(base + f.Offset())
		if int64(d.Line) > math.MaxUint32 {
			return 0, fmt.Errorf("bulkload: %s: more than %d lines", in.path, uint32(math.MaxUint32))
		}
		line := uint32(d.Line)
		if in.skip != nil && in.skip.Contains(line) {
			r.skipped.Add(1)
			continue
		}
		if err := bt.add(ctx, d, line); err != nil {
			return 0, err
		}
	}
	if bt.pending() > 0 {
		if err := bt.flush(ctx); err != nil {
			return 0, err
		}
	}
	n := f.Offset()
	r.bytesRead.Store(base + n)
	return n, nil
}

// batcher cuts the documents of one file into batches and hands them on.
type batcher struct {
	opts  *Options
	file  int           // index into loadRun.files
	guard *orderGuard   // nil with one request in flight
	out   chan<- *batch // to the workers
	b     *batch        // the batch being built
}

// pending returns the number of documents in the batch being built.
func (bt *batcher) pending() int { return len(bt.b.lines) + len(bt.b.invalid) }

// flush hands the batch being built on and starts a new one.
func (bt *batcher) flush(ctx context.Context) error {
	select {
	case bt.out <- bt.b:
		bt.b = newBatch(bt.file)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// add puts document d, found at line of the file, in a batch, and hands
// the batch on once it is full.
func (bt *batcher) add(ctx context.Context, d corpus.Doc, line uint32) error {
	if d.Err != nil {
		bt.b.invalid = append(bt.b.invalid, rejected{line: line, id: d.ID, err: d.Err.Error()})
	} else if err := bt.addValid(ctx, d, line); err != nil {
		return err
	}
	if bt.pending() >= bt.opts.BatchDocs || len(bt.b.body) >= bt.opts.BatchBytes {
		return bt.flush(ctx)
	}
	return nil
}

// addValid adds a valid document to the batch being built, first handing
// that batch on if the document would make it too large, or if an earlier
// write of the same id is in flight.
func (bt *batcher) addValid(ctx context.Context, d corpus.Doc, line uint32) error {
	if len(bt.b.lines) > 0 && len(bt.b.body)+len(d.Body)+1 > bt.opts.BatchBytes {
		if err := bt.flush(ctx); err != nil {
			return err
		}
	}
	if bt.guard != nil {
		if err := bt.keepOrder(ctx, d.ID); err != nil {
			return err
		}
		bt.guard.add(d.ID, bt.b)
	}
	b := bt.b
	b.lines = append(b.lines, line)
	b.ids = append(b.ids, d.ID)
	b.body = append(append(b.body, d.Body...), '\n')
	b.ends = append(b.ends, len(b.body))
	return nil
}

// keepOrder waits, when an earlier write of id is in flight, until that
// write is finished, having handed on what is batched so far.
func (bt *batcher) keepOrder(ctx context.Context, id string) error {
	prev := bt.guard.inFlight(id, bt.b)
	if prev == nil {
		return nil
	}
	if bt.pending() > 0 {
		if err := bt.flush(ctx); err != nil {
			return err
		}
	}
	select {
	case <-prev.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
