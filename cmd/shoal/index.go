package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

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
	c := f.client.newClient("shoal-index")
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

// progressUI draws bulkload.Progress on stderr: a live one-line bar on a
// terminal, a plain line every plainEvery otherwise. It is safe for
// concurrent use (progress and rejected-document lines come from different
// goroutines).
type progressUI struct {
	mu        sync.Mutex
	w         io.Writer
	tty       bool
	fd        int
	drawn     bool // a bar is on the terminal's current line
	lastPlain time.Duration
	last      bulkload.Progress
	retries   int64         // last seen Progress.Retries
	retryAt   time.Duration // when it last grew
}

// retryingFor is how long after the last retry the bar says so.
const retryingFor = 3 * time.Second

// plainEvery is the interval of progress lines when not on a terminal.
const plainEvery = 2 * time.Second

func newProgressUI(w io.Writer) *progressUI {
	u := &progressUI{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		u.tty, u.fd = true, int(f.Fd())
	}
	return u
}

// update shows p; it is the loader's Progress callback.
func (u *progressUI) update(p bulkload.Progress) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.last = p
	if p.Retries != u.retries {
		u.retries, u.retryAt = p.Retries, p.Elapsed
	}
	if p.Done {
		return
	}
	if u.tty {
		u.draw()
		return
	}
	if p.Elapsed-u.lastPlain >= plainEvery {
		u.lastPlain = p.Elapsed
		fmt.Fprintln(u.w, "progress: "+progressText(p))
	}
}

// draw repaints the bar; u.mu is held.
func (u *progressUI) draw() {
	width := 80
	if w, _, err := term.GetSize(u.fd); err == nil && w > 0 {
		width = w
	}
	retrying := u.retries > 0 && u.last.Elapsed-u.retryAt < retryingFor
	fmt.Fprint(u.w, "\r"+barLine(u.last, width-1, retrying)+"\x1b[K")
	u.drawn = true
}

// clear removes the bar so that other output starts on a clean line.
func (u *progressUI) clear() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearLocked()
}

func (u *progressUI) clearLocked() {
	if u.drawn {
		fmt.Fprint(u.w, "\r\x1b[K")
		u.drawn = false
	}
}

// println prints a message line above the bar.
func (u *progressUI) println(s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	redraw := u.drawn
	u.clearLocked()
	fmt.Fprintln(u.w, s)
	if redraw {
		u.draw()
	}
}

// progressText is the plain progress line.
func progressText(p bulkload.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s docs", commas(p.Acked))
	if p.Failed > 0 {
		fmt.Fprintf(&b, ", %s failed", commas(p.Failed))
	}
	if p.Skipped > 0 {
		fmt.Fprintf(&b, ", %s skipped", commas(p.Skipped))
	}
	if frac := p.Fraction(); frac >= 0 {
		fmt.Fprintf(&b, " (%s of %s MB, %d%%)", mb(p.BytesRead), mb(p.TotalBytes), int(frac*100))
	} else {
		fmt.Fprintf(&b, " (%s MB)", mb(p.BytesRead))
	}
	fmt.Fprintf(&b, ", %s docs/s", commas(int64(p.DocsPerSec+0.5)))
	if p.ETA > 0 {
		fmt.Fprintf(&b, ", ETA %s", clock(p.ETA))
	}
	if p.Retries > 0 {
		fmt.Fprintf(&b, ", %s retries", commas(p.Retries))
	}
	return b.String()
}

// barLine is the terminal progress line, at most width columns:
// "[=======>            ]  38%  12,345 docs  45.6/120.0 MB  4,567 docs/s  ETA 0:23".
// The bar comes first and has a fixed size so that it does not move; it is
// left out when the size of the input is unknown or the line too narrow.
// retrying adds a note that the server is being waited for.
func barLine(p bulkload.Progress, width int, retrying bool) string {
	text := commas(p.Acked) + " docs"
	if p.Failed > 0 {
		text += ", " + commas(p.Failed) + " failed"
	}
	if p.Skipped > 0 {
		text += ", " + commas(p.Skipped) + " skipped"
	}
	frac := p.Fraction()
	if frac >= 0 {
		text += "  " + mb(p.BytesRead) + "/" + mb(p.TotalBytes) + " MB"
	} else {
		text += "  " + mb(p.BytesRead) + " MB"
	}
	text += "  " + commas(int64(p.DocsPerSec+0.5)) + " docs/s"
	if p.ETA > 0 {
		text += "  ETA " + clock(p.ETA)
	}
	if retrying {
		text += "  (server unavailable, retrying)"
	}
	if frac < 0 {
		return truncate(text, width)
	}
	const barWidth = 20
	fill := int(frac * barWidth)
	bar := strings.Repeat("=", fill)
	if fill < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-fill-1)
	}
	line := fmt.Sprintf("[%s] %3d%%  %s", bar, int(frac*100), text)
	if len(line) > width {
		return truncate(text, width)
	}
	return line
}

func truncate(s string, width int) string {
	if width > 0 && len(s) > width {
		return s[:width]
	}
	return s
}

// rejectPrinter shows the first max rejected-document records on the
// progress UI's stream and counts the rest.
type rejectPrinter struct {
	ui      *progressUI
	max     int
	shown   int
	omitted bool
}

// Write receives JSON lines from the loader (one goroutine at a time).
func (r *rejectPrinter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		switch {
		case r.shown < r.max:
			r.shown++
			r.ui.println("rejected: " + line)
		case !r.omitted:
			r.omitted = true
			r.ui.println("rejected: … more not shown; use --errors FILE to keep them all")
		}
	}
	return len(p), nil
}

// commas formats n with thousands separators: 1234567 → "1,234,567".
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// mb formats bytes as megabytes with one decimal.
func mb(n int64) string { return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) }

// seconds formats an elapsed time: "12.3s" under a minute, "4m5s" above.
func seconds(d time.Duration) string {
	if d < time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.Round(time.Second).String()
}

// clock formats a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
