package bulkload

import (
	"io"
	"time"
)

// Defaults of [Options].
const (
	// DefaultBatchDocs is the most documents per bulk request.
	DefaultBatchDocs = 1000
	// DefaultBatchBytes is the most body bytes per bulk request.
	DefaultBatchBytes = 4 << 20
	// DefaultConcurrency is the number of bulk requests in flight: enough
	// to keep the server parsing and publishing one request while
	// JetStream stores another and the searchers apply a third.
	DefaultConcurrency = 4
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
	// Concurrency is the number of bulk requests in flight (default 4).
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
	// flagged as retryable because it could not store them) before the
	// load gives up with an error wrapping client.ErrUnavailable (default
	// 2 minutes).
	MaxRetryTime time.Duration
}
