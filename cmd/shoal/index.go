package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-search/shoal/bulkload"
	"github.com/shoal-search/shoal/client"
)

// indexFlags are the flags of `shoal index`.
type indexFlags struct {
	client            clientFlags
	index             string
	create            bool
	shards, replicas  int
	idField           string
	batch, batchBytes int
	concurrency       int
	errorsPath        string
	resume            bool
	checkpoint        string
	noCheckpoint      bool
	refresh           bool
	retryTime         time.Duration
}

func newIndexCmd() *cobra.Command {
	var f indexFlags
	cmd := &cobra.Command{
		Use:   "index --index NAME [flags] FILE... | -",
		Short: "Bulk-load JSON Lines files (plain or .gz) into an index",
		Long: `Streams JSON Lines documents (one object per line, plain or gzip, from files
or "-" for standard input) to Shoal's bulk API, several batches in flight.

Each line needs an id (the "id" field, or --id-field). A line with
"_delete":true deletes that id. Lines that are not valid documents, and
documents the server rejects, are written with their file and line number
to --errors FILE (standard error if not given); the exit status is then 2.
Batches are retried with backoff while the server is unavailable.

A checkpoint (default: beside the first input, FILE.checkpoint) records
which lines are done. After an interrupted load (Ctrl-C, kill, a server
outage) run the same command with --resume to send only the rest. Lines
rejected for their content count as done: fix them and load them apart.`,
		Example: `  shoal index --index books --create --shards 8 books.jsonl.gz
  zcat part-*.gz | shoal index --index books --checkpoint books.ckpt -
  shoal index --index books --resume --errors rejected.jsonl books.jsonl.gz`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIndex(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f, args)
		},
	}
	fl := cmd.Flags()
	f.client.register(fl)
	fl.StringVar(&f.index, "index", "", "index to load into (required)")
	fl.BoolVar(&f.create, "create", false, "create the index if it does not exist")
	fl.IntVar(&f.shards, "shards", 0, "with --create: number of shards (0 = the server's default)")
	fl.IntVar(&f.replicas, "replicas", 0, "with --create: copies of each shard (0 = the server's default)")
	fl.StringVar(&f.idField, "id-field", "id", "field holding each document's id")
	fl.IntVar(&f.batch, "batch", bulkload.DefaultBatchDocs, "documents per bulk request")
	fl.IntVar(&f.batchBytes, "batch-bytes", bulkload.DefaultBatchBytes, "most bytes per bulk request")
	fl.IntVar(&f.concurrency, "concurrency", bulkload.DefaultConcurrency, "bulk requests in flight")
	fl.StringVar(&f.errorsPath, "errors", "", "write rejected documents here as JSON lines (default: standard error)")
	fl.BoolVar(&f.resume, "resume", false, "skip the lines the checkpoint records as done")
	fl.StringVar(&f.checkpoint, "checkpoint", "", "checkpoint file (default: FILE.checkpoint beside the first input; none for stdin)")
	fl.BoolVar(&f.noCheckpoint, "no-checkpoint", false, "do not keep a checkpoint")
	fl.BoolVar(&f.refresh, "refresh", false, "wait until every batch is searchable before counting it done")
	fl.DurationVar(&f.retryTime, "retry-time", bulkload.DefaultMaxRetryTime, "give up when the server stays unavailable this long")
	bindEnv(cmd)
	return cmd
}

// runIndex is `shoal index`: stdout gets the summary, stderr the progress
// and messages.
func runIndex(ctx context.Context, stdout, stderr io.Writer, f *indexFlags, files []string) error {
	if err := f.validate(); err != nil {
		return err
	}
	c, err := f.client.newClient("shoal-index")
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()

	if err := prepareIndex(ctx, stderr, c, f); err != nil {
		return explain(err, f.client.server, f.index)
	}

	ui := newProgressUI(stderr)
	rejects, errFile, err := openRejects(f, ui)
	if err != nil {
		return err
	}
	if errFile != nil {
		defer errFile.Close()
	}
	loader := bulkload.New(c, f.loadOptions(files, rejects, ui.update))
	sum, err := loader.Load(ctx)
	ui.clear()
	if errFile != nil {
		if cerr := errFile.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("errors file: %w", cerr)
		}
	}
	fmt.Fprintln(stdout, summaryLine(sum, f.resume))
	if err != nil {
		return loadFailure(ctx, stderr, f, loader.CheckpointPath(), err)
	}
	if sum.Failed > 0 {
		where := "standard error (above)"
		if f.errorsPath != "" {
			where = f.errorsPath
		}
		return &exitError{code: 2, err: fmt.Errorf("%s documents failed; they are listed in %s", commas(sum.Failed), where)}
	}
	return nil
}

// validate checks the flags of `shoal index` before anything is sent.
func (f *indexFlags) validate() error {
	switch {
	case f.index == "":
		return errors.New("--index is required (or SHOAL_INDEX)")
	case f.resume && f.noCheckpoint:
		return errors.New("--resume needs a checkpoint; drop --no-checkpoint")
	case f.batch < 1 || f.batchBytes < 1 || f.concurrency < 1:
		return errors.New("--batch, --batch-bytes and --concurrency must be at least 1")
	case f.shards < 0 || f.replicas < 0:
		return errors.New("--shards and --replicas must not be negative")
	}
	return nil
}

// loadOptions are the loader's options for files, sending rejected
// documents to rejects and progress to progress.
func (f *indexFlags) loadOptions(files []string, rejects io.Writer, progress func(bulkload.Progress)) bulkload.Options {
	return bulkload.Options{
		Index:        f.index,
		Files:        files,
		IDField:      f.idField,
		BatchDocs:    f.batch,
		BatchBytes:   f.batchBytes,
		Concurrency:  f.concurrency,
		Refresh:      f.refresh,
		Checkpoint:   f.checkpoint,
		NoCheckpoint: f.noCheckpoint,
		Resume:       f.resume,
		Errors:       rejects,
		Progress:     progress,
		MaxRetryTime: f.retryTime,
	}
}

// openRejects returns where rejected documents go: the --errors file
// (returned too, for the caller to close), or the first few on the
// progress UI.
func openRejects(f *indexFlags, ui *progressUI) (io.Writer, *os.File, error) {
	if f.errorsPath == "" {
		return &rejectPrinter{ui: ui, max: 10}, nil, nil
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if f.resume {
		// Rejected lines count as done: keep what earlier runs wrote.
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	errFile, err := os.OpenFile(f.errorsPath, flags, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("errors file: %w", err)
	}
	return errFile, errFile, nil
}

// loadFailure is the error of a load that stopped early: an interrupt
// exits with 130, anything else is explained; either way the user learns
// how to resume from the checkpoint ckpt, if there is one.
func loadFailure(ctx context.Context, stderr io.Writer, f *indexFlags, ckpt string, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		if ckpt != "" {
			fmt.Fprintf(stderr, "interrupted: progress saved in %s\nto continue, run the same command with --resume\n", ckpt)
		}
		return &exitError{code: 130, err: errors.New("interrupted")}
	}
	if ckpt != "" && !errors.Is(err, bulkload.ErrCheckpointMismatch) {
		fmt.Fprintf(stderr, "progress saved in %s: after fixing the problem, run the same command with --resume\n", ckpt)
	}
	return explain(err, f.client.server, f.index)
}

// prepareIndex creates the index with --create, or checks that it exists.
func prepareIndex(ctx context.Context, stderr io.Writer, c *client.Client, f *indexFlags) error {
	if !f.create {
		_, err := c.GetIndex(ctx, f.index)
		if client.IsNotFound(err) {
			return fmt.Errorf("index %q does not exist; add --create to create it", f.index)
		}
		return err
	}
	err := c.CreateIndex(ctx, f.index, client.IndexSettings{Shards: f.shards, Replicas: f.replicas})
	if err == nil {
		msg := fmt.Sprintf("created index %q", f.index)
		if info, gerr := c.GetIndex(ctx, f.index); gerr == nil {
			msg += fmt.Sprintf(" with %d shards, %d replicas", info.Shards, info.Replicas)
		}
		fmt.Fprintln(stderr, msg)
		return nil
	}
	if !errors.Is(err, client.ErrExists) {
		return fmt.Errorf("create index %q: %w", f.index, err)
	}
	info, err := c.GetIndex(ctx, f.index)
	if err != nil {
		return err
	}
	var diffs []string
	if f.shards != 0 && info.Shards != f.shards {
		diffs = append(diffs, fmt.Sprintf("%d shards, not %d", info.Shards, f.shards))
	}
	if f.replicas != 0 && info.Replicas != f.replicas {
		diffs = append(diffs, fmt.Sprintf("%d replicas, not %d", info.Replicas, f.replicas))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("index %q already exists with %s; delete it first, or load without --create",
			f.index, strings.Join(diffs, " and "))
	}
	return nil
}

// explain turns the errors a user can act on into plain advice, keeping
// the original error wrapped.
func explain(err error, server, index string) error {
	var ae *client.APIError
	var ce *client.ConnError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("cannot reach the Shoal server at %s (is it running? --server or SHOAL_SERVER picks another): %w", server, err)
	case errors.As(err, &ae) && ae.Status == 401:
		return fmt.Errorf("the server wants an API key (--api-key or SHOAL_API_KEY): %w", err)
	case errors.As(err, &ae) && ae.Status == 404 && ae.Type == "index_not_found":
		return fmt.Errorf("index %q does not exist: %w", index, err)
	}
	return err
}

// summaryLine is the closing line of `shoal index`.
func summaryLine(s bulkload.Summary, resume bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "indexed %s, deleted %s, failed %s", commas(s.Indexed), commas(s.Deleted), commas(s.Failed))
	if resume || s.Skipped > 0 {
		fmt.Fprintf(&b, ", skipped %s (resume)", commas(s.Skipped))
	}
	fmt.Fprintf(&b, " in %s (%s docs/s)", seconds(s.Elapsed), commas(int64(s.DocsPerSec+0.5)))
	if s.Retries > 0 {
		fmt.Fprintf(&b, ", %s retried requests", commas(s.Retries))
	}
	return b.String()
}
