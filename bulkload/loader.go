// Package bulkload is Shoal's bulk-index client: it streams JSON Lines
// files (read with package corpus) to the bulk API of a Shoal server,
// several batches in flight, keeping writes to one id in file order. It
// retries what the server reports as retryable (see [Options.MaxRetryTime])
// and records finished lines in a roaring-bitmap [Checkpoint], so that an
// interrupted load can be resumed.
package bulkload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"golang.org/x/sync/errgroup"

	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/corpus"
)

// Loader streams JSON Lines files into an index through the bulk API.
type Loader struct {
	client *client.Client
	opts   Options
}

// New returns a Loader that sends to c as configured by opts.
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
			return nil, err
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
			return nil, err
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
		return nil, err
	}
	return r, nil
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
				fail(err)
			}
			lastSave = time.Now()
		}
	}
	return firstErr
}
