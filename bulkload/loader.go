// Package bulkload is Shoal's bulk-index client: it streams JSON Lines
// files (read with package corpus) to the bulk API of a Shoal server,
// several batches in flight, keeping writes to one id in file order. It
// retries what the server reports as retryable (see [Options.MaxRetryTime])
// and records finished lines in a roaring-bitmap [Checkpoint], so that an
// interrupted load can be resumed.
package bulkload

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"golang.org/x/sync/errgroup"

	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/corpus"
)

// Defaults of [Options].
const (
	// DefaultBatchDocs is the most documents per bulk request.
	DefaultBatchDocs = 1000
	// DefaultBatchBytes is the most body bytes per bulk request.
	DefaultBatchBytes = 4 << 20
	// DefaultConcurrency is the number of bulk requests in flight.
	DefaultConcurrency = 2
	// DefaultMaxRetryTime bounds the retries of one batch.
	DefaultMaxRetryTime = 2 * time.Minute
	// DefaultProgressInterval is the time between Progress calls.
	DefaultProgressInterval = 200 * time.Millisecond
	// DefaultCheckpointInterval is the least time between checkpoint saves.
	DefaultCheckpointInterval = 500 * time.Millisecond

	// CheckpointSuffix is appended to the first input file's path to name
	// the default checkpoint.
	CheckpointSuffix = ".checkpoint"
)

// Retry backoff after a failed bulk request: doubling from the first to
// the cap, each wait jittered.
const (
	retryFirstWait = 100 * time.Millisecond
	retryMaxWait   = 5 * time.Second
)

// Options configures a [Loader]. Zero values mean the defaults.
type Options struct {
	// Index is the index to load into. Required.
	Index string
	// Files are the JSON Lines inputs, plain or gzip-compressed, read in
	// order; "-" is standard input. Required.
	Files []string
	// IDField names the field holding each document's id ("id" if empty).
	// The document is sent with its id under "id".
	IDField string
	// MaxLineBytes is the longest accepted line (see ReaderOptions).
	MaxLineBytes int
	// BatchDocs is the most documents per bulk request (default 1000).
	BatchDocs int
	// BatchBytes is the most body bytes per bulk request (default 4 MiB);
	// a single larger document is sent alone. A request the server refuses
	// as too large (413) is split in two and retried.
	BatchBytes int
	// Concurrency is the number of bulk requests in flight (default 2).
	Concurrency int
	// Refresh makes every bulk request wait until its writes are
	// searchable (?refresh=wait_for), so that when Load returns the
	// documents can be found.
	Refresh bool
	// Checkpoint is the file recording which lines are finished. Empty
	// means the first input file's path plus CheckpointSuffix, or no
	// checkpoint when the first input is standard input. Without Resume an
	// existing checkpoint is replaced.
	Checkpoint string
	// NoCheckpoint disables the checkpoint.
	NoCheckpoint bool
	// Resume skips the lines the checkpoint records as finished; they are
	// counted in Summary.Skipped. A line is finished when the server
	// acknowledged it, and also when it was rejected for its content (by
	// the reader or by the server), since sending it again would fail the
	// same way; such lines were reported to Errors by the run that
	// rejected them. A document the server could not store for a passing
	// reason is retried, never recorded as finished. Resuming refuses (ErrCheckpointMismatch) if the checkpoint
	// is for another index or an input file changed since; without a
	// checkpoint file to resume from, everything is loaded. Standard input
	// is keyed by "-" alone, so resuming it trusts the caller to supply the
	// same data.
	Resume bool
	// Errors receives one JSON object per line for every rejected document:
	// {"file":…,"line":…,"id":…,"error":…}, line being the line number in
	// the input file. Nil discards them (they are still counted).
	Errors io.Writer
	// Progress, if not nil, is called about every ProgressInterval and once
	// more at the end (with Done set), always from the same goroutine.
	Progress func(Progress)
	// ProgressInterval is the time between Progress calls (default 200ms).
	ProgressInterval time.Duration
	// CheckpointInterval is the least time between two checkpoint saves
	// during the load (default 500ms); the checkpoint is always saved at
	// the end, also when the load is cancelled or fails.
	CheckpointInterval time.Duration
	// MaxRetryTime bounds how long one batch is retried while the server
	// is unavailable (connection failures, 502, 503, 504, or documents it
	// could not store) before the load gives up with an error wrapping
	// client.ErrUnavailable (default 2 minutes).
	MaxRetryTime time.Duration
}

// Progress is a snapshot of a running load.
type Progress struct {
	// Sent counts documents handed to the server (retries not counted).
	Sent int64
	// Acked counts documents the server indexed or deleted.
	Acked int64
	// Failed counts documents rejected, by the reader or the server.
	Failed int64
	// Skipped counts lines skipped because the checkpoint had them.
	Skipped int64
	// Retries counts bulk requests repeated because the server was
	// unavailable.
	Retries int64
	// BytesRead is how much of the input files has been read, in bytes as
	// stored (compressed bytes for gzip files).
	BytesRead int64
	// TotalBytes is the summed size of the input files as stored, or 0 when
	// unknown (standard input).
	TotalBytes int64
	// Elapsed is the time since the load started.
	Elapsed time.Duration
	// DocsPerSec is the recent rate of finished (acknowledged or failed)
	// documents.
	DocsPerSec float64
	// ETA estimates the time left from the recent byte rate; 0 if unknown.
	ETA time.Duration
	// Done is set on the final call.
	Done bool
}

// Fraction returns BytesRead/TotalBytes in [0,1], or -1 if TotalBytes is
// unknown.
func (p Progress) Fraction() float64 {
	if p.TotalBytes <= 0 {
		return -1
	}
	return min(1, float64(p.BytesRead)/float64(p.TotalBytes))
}

// Summary is the outcome of a load.
type Summary struct {
	// Indexed counts documents written.
	Indexed int64
	// Deleted counts delete lines applied.
	Deleted int64
	// Failed counts documents rejected, by the reader or the server.
	Failed int64
	// Skipped counts lines skipped because the checkpoint had them.
	Skipped int64
	// Retries counts repeated bulk requests.
	Retries int64
	// Bytes is how much input was read, in bytes as stored.
	Bytes int64
	// Elapsed is the duration of the load.
	Elapsed time.Duration
	// DocsPerSec is (Indexed+Deleted+Failed)/Elapsed.
	DocsPerSec float64
	// Checkpoint is the checkpoint file used, or "" if none.
	Checkpoint string
}

// Loader streams JSON Lines files into an index through the bulk API.
type Loader struct {
	client *client.Client
	opts   Options
}

// NewLoader returns a Loader that sends to c as configured by opts.
func New(c *client.Client, opts Options) *Loader {
	if opts.BatchDocs <= 0 {
		opts.BatchDocs = DefaultBatchDocs
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = DefaultBatchBytes
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.MaxRetryTime <= 0 {
		opts.MaxRetryTime = DefaultMaxRetryTime
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = DefaultProgressInterval
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	if opts.Checkpoint == "" && !opts.NoCheckpoint && len(opts.Files) > 0 && opts.Files[0] != corpus.StdinPath {
		opts.Checkpoint = opts.Files[0] + CheckpointSuffix
	}
	if opts.NoCheckpoint {
		opts.Checkpoint = ""
	}
	return &Loader{client: c, opts: opts}
}

// CheckpointPath returns the checkpoint file the Loader uses, or "" if none.
func (l *Loader) CheckpointPath() string { return l.opts.Checkpoint }

// Load reads every input file and sends its documents in batches, several
// in flight, retrying batches while the server is unavailable. It returns
// when all documents are finished, on the first error that stops the load
// (unreadable input, a request the server refuses as a whole, the server
// unavailable for longer than MaxRetryTime, a checkpoint that cannot be
// written) or when ctx ends. The Summary is valid in every case, and the
// checkpoint is saved before Load returns, so a load stopped by ctx (for
// example on Ctrl-C) can be resumed. Rejected documents are not an error:
// they are counted in Summary.Failed and written to Options.Errors.
//
// Reads of standard input cannot be interrupted: after ctx ends, Load saves
// the checkpoint at once but returns only when the pending read does
// (typically when the process writing to the pipe exits or closes it).
func (l *Loader) Load(ctx context.Context) (Summary, error) {
	r, err := l.prepare()
	if err != nil {
		return Summary{Checkpoint: l.opts.Checkpoint}, err
	}
	return r.run(ctx)
}

// inputFile is one input of a load.
type inputFile struct {
	path string
	key  FileKey
	skip *roaring.Bitmap // lines to skip (read-only copy), or nil
	done *roaring.Bitmap // lines finished, owned by the collector; nil without checkpoint
}

// loadRun is the state of one Load call.
type loadRun struct {
	l          *Loader
	opts       *Options
	files      []inputFile
	ckpt       *Checkpoint // nil without checkpoint
	totalBytes int64
	start      time.Time

	sent, indexed, deleted, failed, skipped, retries, bytesRead atomic.Int64
}

// prepare validates the options, stats the inputs and loads or creates the
// checkpoint.
func (l *Loader) prepare() (*loadRun, error) {
	o := &l.opts
	switch {
	case o.Index == "":
		return nil, errors.New("bulkload: no index given")
	case len(o.Files) == 0:
		return nil, errors.New("bulkload: no input files given")
	case l.client == nil:
		return nil, errors.New("bulkload: no client given")
	case o.Resume && o.Checkpoint == "":
		return nil, errors.New("bulkload: resuming needs a checkpoint file (none is implied for standard input)")
	}
	r := &loadRun{l: l, opts: o}
	stdin := 0
	for _, p := range o.Files {
		key, err := StatFileKey(p)
		if err != nil {
			return nil, fmt.Errorf("bulkload: %w", err)
		}
		if p == corpus.StdinPath {
			stdin++
		} else {
			r.totalBytes += key.Size
		}
		r.files = append(r.files, inputFile{path: p, key: key})
	}
	if stdin > 1 {
		return nil, errors.New(`bulkload: standard input ("-") given more than once`)
	}
	if stdin > 0 {
		r.totalBytes = 0 // unknown
	}
	if o.Checkpoint == "" {
		return r, nil
	}
	r.ckpt = NewCheckpoint(o.Index)
	if o.Resume {
		c, err := ReadCheckpoint(o.Checkpoint)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Nothing to resume from: load everything.
		case err != nil:
			return nil, fmt.Errorf("bulkload: %w", err)
		case c.Index() != o.Index:
			return nil, fmt.Errorf("bulkload: %w: checkpoint %s is for index %q, not %q",
				ErrCheckpointMismatch, o.Checkpoint, c.Index(), o.Index)
		default:
			r.ckpt = c
		}
	}
	for i := range r.files {
		f := &r.files[i]
		done, err := r.ckpt.Lines(f.key)
		if err != nil {
			return nil, fmt.Errorf("bulkload: checkpoint %s: %w", o.Checkpoint, err)
		}
		f.done = done
		if o.Resume && !done.IsEmpty() {
			f.skip = done.Clone()
		}
	}
	// Save once now, so an unwritable checkpoint stops the load before
	// anything is sent.
	if err := r.ckpt.Save(o.Checkpoint); err != nil {
		return nil, fmt.Errorf("bulkload: %w", err)
	}
	return r, nil
}

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

func (r *loadRun) run(parent context.Context) (Summary, error) {
	r.start = time.Now()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	batches := make(chan *batch, r.opts.Concurrency)
	outcomes := make(chan outcome, r.opts.Concurrency)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(batches)
		return r.produce(gctx, batches)
	})
	var workers sync.WaitGroup
	for range r.opts.Concurrency {
		workers.Add(1)
		g.Go(func() error {
			defer workers.Done()
			return r.work(gctx, batches, outcomes)
		})
	}
	go func() {
		// Owned by run: ends when the workers have ended.
		workers.Wait()
		close(outcomes)
	}()

	stopProgress := r.startProgress()
	collectErr := r.collect(outcomes, cancel)
	// Every outcome is in: save before waiting for the reader, which may
	// be blocked on standard input.
	var saveErr error
	if r.ckpt != nil {
		saveErr = r.ckpt.Save(r.opts.Checkpoint)
	}
	loadErr := g.Wait()
	stopProgress()

	err := collectErr
	switch {
	case err != nil:
	case loadErr != nil && parent.Err() != nil:
		err = fmt.Errorf("bulkload: interrupted: %w", context.Cause(parent))
	case loadErr != nil:
		err = loadErr
	}
	if saveErr != nil {
		err = errors.Join(err, saveErr)
	}
	return r.summary(), err
}

func newBatch(file int) *batch {
	return &batch{file: file, done: make(chan struct{})}
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
	b := newBatch(i)
	send := func() error {
		select {
		case out <- b:
			b = newBatch(i)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
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
		if d.Err != nil {
			b.invalid = append(b.invalid, rejected{line: line, id: d.ID, err: d.Err.Error()})
		} else {
			if len(b.lines) > 0 && len(b.body)+len(d.Body)+1 > r.opts.BatchBytes {
				if err := send(); err != nil {
					return 0, err
				}
			}
			if guard != nil {
				if prev := guard.inFlight(d.ID, b); prev != nil {
					// An earlier write of this id is in flight: send what
					// is batched, and let that write finish first.
					if len(b.lines)+len(b.invalid) > 0 {
						if err := send(); err != nil {
							return 0, err
						}
					}
					select {
					case <-prev.done:
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				}
				guard.add(d.ID, b)
			}
			b.lines = append(b.lines, line)
			b.ids = append(b.ids, d.ID)
			b.body = append(append(b.body, d.Body...), '\n')
			b.ends = append(b.ends, len(b.body))
		}
		if len(b.lines)+len(b.invalid) >= r.opts.BatchDocs || len(b.body) >= r.opts.BatchBytes {
			if err := send(); err != nil {
				return 0, err
			}
		}
	}
	if len(b.lines)+len(b.invalid) > 0 {
		if err := send(); err != nil {
			return 0, err
		}
	}
	n := f.Offset()
	r.bytesRead.Store(base + n)
	return n, nil
}

// work sends batches from in until it is closed, delivering outcomes.
func (r *loadRun) work(ctx context.Context, in <-chan *batch, out chan<- outcome) error {
	for {
		var b *batch
		select {
		case <-ctx.Done():
			return ctx.Err()
		case next, ok := <-in:
			if !ok {
				return nil
			}
			b = next
		}
		o := outcome{b: b, rejected: slices.Clone(b.invalid), failed: len(b.invalid)}
		if len(b.lines) > 0 {
			r.sent.Add(int64(len(b.lines)))
			all := make([]int, len(b.lines))
			for i := range all {
				all[i] = i
			}
			if err := r.send(ctx, b, all, &o); err != nil {
				return err
			}
		}
		slices.SortFunc(o.rejected, func(a, b rejected) int { return cmp.Compare(a.line, b.line) })
		out <- o // the collector drains outcomes until they are closed
	}
}

// send delivers the documents idx (indexes into b's documents, in file
// order) and adds the result to o. A request refused as too large is split
// in halves; a single document refused so is recorded as rejected.
// Documents the server could not store for a passing reason are sent
// again with backoff, for at most MaxRetryTime.
func (r *loadRun) send(ctx context.Context, b *batch, idx []int, o *outcome) error {
	var deadline time.Time
	wait := retryFirstWait
	for {
		res, err := r.bulk(ctx, b.bodyOf(idx))
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusRequestEntityTooLarge {
			if len(idx) == 1 {
				o.failed++
				o.rejected = append(o.rejected, rejected{line: b.lines[idx[0]], id: b.ids[idx[0]],
					err: "document too large for the server: " + ae.Reason})
				return nil
			}
			mid := len(idx) / 2
			if err := r.send(ctx, b, idx[:mid], o); err != nil {
				return err
			}
			return r.send(ctx, b, idx[mid:], o)
		}
		if err != nil {
			return fmt.Errorf("bulkload: %s, lines %d-%d: %w",
				r.files[b.file].path, b.lines[idx[0]], b.lines[idx[len(idx)-1]], err)
		}
		o.indexed += res.Indexed
		o.deleted += res.Deleted
		var again []int
		var reason string
		for _, e := range res.Errors {
			k := -1 // index into idx
			if e.Line >= 1 && e.Line <= len(idx) {
				k = e.Line - 1
			} else if e.ID != "" {
				// The server's line number is out of range: find the id.
				k = slices.IndexFunc(idx, func(j int) bool { return b.ids[j] == e.ID })
			}
			if k >= 0 && transientDocError(e) {
				again = append(again, idx[k])
				reason = e.Error
				continue
			}
			rj := rejected{id: e.ID, err: e.Error}
			if k >= 0 {
				rj.line = b.lines[idx[k]]
				rj.id = cmp.Or(rj.id, b.ids[idx[k]])
			}
			o.failed++
			o.rejected = append(o.rejected, rj)
		}
		// Failures the server counted without detailing them.
		o.failed += max(0, res.Failed-len(res.Errors))
		if len(again) == 0 {
			return nil
		}
		slices.Sort(again)
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(r.opts.MaxRetryTime)
		}
		d := jitter(wait)
		if now.Add(d).After(deadline) {
			return fmt.Errorf("bulkload: %s: %d documents not stored for %v, giving up (last: %s): %w",
				r.files[b.file].path, len(again), r.opts.MaxRetryTime, reason, client.ErrUnavailable)
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
		r.retries.Add(1)
		wait = min(2*wait, retryMaxWait)
		idx = again
	}
}

// transientDocError reports whether the server failed a document for a
// passing reason (it could not be stored), so that sending it again may
// succeed, rather than for its content. Besides the explicit flag it
// recognises the indexer's wording for a write JetStream did not store.
func transientDocError(e client.BulkError) bool {
	if e.Retryable {
		return true
	}
	for _, p := range []string{"publish:", "not stored:", "not confirmed:"} {
		if strings.HasPrefix(e.Error, p) {
			return true
		}
	}
	return false
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

// jitter returns a duration between half and all of d.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// bulk sends one bulk request, retrying with jittered exponential backoff
// while the server is unavailable, for at most MaxRetryTime.
func (r *loadRun) bulk(ctx context.Context, body []byte) (*client.BulkResult, error) {
	var deadline time.Time
	wait := retryFirstWait
	for {
		res, err := r.l.client.Bulk(ctx, r.opts.Index, body, r.opts.Refresh)
		if err == nil || !client.IsUnavailable(err) || ctx.Err() != nil {
			return res, err
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(r.opts.MaxRetryTime)
		}
		d := jitter(wait)
		if now.Add(d).After(deadline) {
			return nil, fmt.Errorf("server unavailable for %v, giving up: %w", r.opts.MaxRetryTime, err)
		}
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
		r.retries.Add(1)
		wait = min(2*wait, retryMaxWait)
	}
}

// errorRecord is one line written to Options.Errors.
type errorRecord struct {
	File  string `json:"file"`
	Line  uint32 `json:"line"`
	ID    string `json:"id,omitempty"`
	Error string `json:"error"`
}

// collect consumes outcomes until the channel is closed: it counts them,
// reports rejected documents and records finished lines in the checkpoint,
// saving it at most every CheckpointInterval. On an error it cancels the
// load but keeps draining, and returns the first error.
func (r *loadRun) collect(outcomes <-chan outcome, cancel context.CancelFunc) error {
	var (
		firstErr error
		lastSave = time.Now()
		enc      *json.Encoder
	)
	if r.opts.Errors != nil {
		enc = json.NewEncoder(r.opts.Errors)
		enc.SetEscapeHTML(false)
	}
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	for o := range outcomes {
		r.indexed.Add(int64(o.indexed))
		r.deleted.Add(int64(o.deleted))
		r.failed.Add(int64(o.failed))
		in := &r.files[o.b.file]
		close(o.b.done)
		if enc != nil && firstErr == nil {
			for _, rj := range o.rejected {
				if err := enc.Encode(errorRecord{File: in.path, Line: rj.line, ID: rj.id, Error: rj.err}); err != nil {
					fail(fmt.Errorf("bulkload: write rejected documents: %w", err))
					break
				}
			}
		}
		if in.done == nil || firstErr != nil {
			// After a failure nothing more is recorded: a rejection that
			// could not be reported must not count as done.
			continue
		}
		in.done.AddMany(o.b.lines)
		for _, rj := range o.b.invalid {
			in.done.Add(rj.line)
		}
		if firstErr == nil && time.Since(lastSave) >= r.opts.CheckpointInterval {
			if err := r.ckpt.Save(r.opts.Checkpoint); err != nil {
				fail(fmt.Errorf("bulkload: %w", err))
			}
			lastSave = time.Now()
		}
	}
	return firstErr
}

// startProgress starts the goroutine calling Options.Progress and
// returns the function that stops it after a final call.
func (r *loadRun) startProgress() (stop func()) {
	if r.opts.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := rateWindow{samples: []rateSample{{t: r.start}}}
		t := time.NewTicker(r.opts.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				p := r.progress(&w)
				p.Done = true
				r.opts.Progress(p)
				return
			case <-t.C:
				r.opts.Progress(r.progress(&w))
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// progress takes a snapshot of the counters.
func (r *loadRun) progress(w *rateWindow) Progress {
	now := time.Now()
	p := Progress{
		Sent:       r.sent.Load(),
		Acked:      r.indexed.Load() + r.deleted.Load(),
		Failed:     r.failed.Load(),
		Skipped:    r.skipped.Load(),
		Retries:    r.retries.Load(),
		BytesRead:  r.bytesRead.Load(),
		TotalBytes: r.totalBytes,
		Elapsed:    now.Sub(r.start),
	}
	docRate, byteRate := w.add(now, p.Acked+p.Failed, p.BytesRead)
	p.DocsPerSec = docRate
	if p.TotalBytes > 0 && byteRate > 0 && p.BytesRead < p.TotalBytes {
		p.ETA = time.Duration(float64(p.TotalBytes-p.BytesRead) / byteRate * float64(time.Second))
	}
	return p
}

func (r *loadRun) summary() Summary {
	s := Summary{
		Indexed:    r.indexed.Load(),
		Deleted:    r.deleted.Load(),
		Failed:     r.failed.Load(),
		Skipped:    r.skipped.Load(),
		Retries:    r.retries.Load(),
		Bytes:      r.bytesRead.Load(),
		Elapsed:    time.Since(r.start),
		Checkpoint: r.opts.Checkpoint,
	}
	if secs := s.Elapsed.Seconds(); secs > 0 {
		s.DocsPerSec = float64(s.Indexed+s.Deleted+s.Failed) / secs
	}
	return s
}

// rateWindow measures recent rates over a sliding window of samples.
type rateWindow struct {
	samples []rateSample
}

type rateSample struct {
	t           time.Time
	docs, bytes int64
}

// rateSpan is how far back rateWindow looks.
const rateSpan = 10 * time.Second

// add records a sample and returns the docs and bytes per second over the
// window, 0 until there are two samples.
func (w *rateWindow) add(t time.Time, docs, bytes int64) (docRate, byteRate float64) {
	w.samples = append(w.samples, rateSample{t, docs, bytes})
	cut := 0
	for cut < len(w.samples)-2 && t.Sub(w.samples[cut].t) > rateSpan {
		cut++
	}
	w.samples = w.samples[cut:]
	first := w.samples[0]
	dt := t.Sub(first.t).Seconds()
	if dt <= 0 {
		return 0, 0
	}
	return float64(docs-first.docs) / dt, float64(bytes-first.bytes) / dt
}
