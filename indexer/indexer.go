// Package indexer turns incoming documents into durable, routed writes: it
// validates them, assigns each to a shard by a stable hash of its id,
// publishes it to the index's JetStream stream and reports per-document
// results. A write counts as accepted only once JetStream has stored it.
package indexer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/fanout"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/token"
)

// MaxIDBytes is the longest document id accepted.
const MaxIDBytes = 512

// Op is one document write.
type Op struct {
	// Line is the 1-based line of the op in its request body (0 if none).
	Line   int
	ID     string
	Delete bool
	// Doc is the document's JSON object (nil for a delete).
	Doc json.RawMessage
}

// DocError is a document that was not written, and why.
type DocError struct {
	Line int    `json:"line"`
	ID   string `json:"id,omitempty"`
	Err  string `json:"error"`
	// Type says what kind of failure it was (one of the Fail constants).
	Type FailType `json:"type,omitempty"`
	// Retryable is set when the document was fine but was not stored
	// (the stream was unavailable, or did not confirm in time): sending
	// it again may succeed.
	Retryable bool `json:"retryable,omitempty"`
}

// Result is the outcome of a set of writes.
type Result struct {
	Indexed int        `json:"indexed"`
	Deleted int        `json:"deleted"`
	Failed  int        `json:"failed"`
	Errors  []DocError `json:"errors"`
	// Refreshed is set when the caller waited for the writes to become
	// searchable: true if every shard confirmed.
	Refreshed *bool `json:"refreshed,omitempty"`
	// IndexUID names the incarnation of the index the writes went to: an
	// index deleted and created again under the same name has another.
	IndexUID string `json:"index_uid,omitempty"`
	// Token is the read-your-writes token of the writes stored (Written),
	// encoded; the HTTP layer merges in the token the client sent.
	Token string `json:"token"`

	// maxSeq is the highest stream sequence stored per shard.
	maxSeq map[int]uint64
}

// Written is the read-your-writes token of the writes stored: the index
// incarnation and, per shard written, the highest stream sequence
// JetStream gave a write.
func (r *Result) Written() token.Token {
	t := token.Token{UID: r.IndexUID, Seqs: make(map[int]uint64, len(r.maxSeq))}
	for s, seq := range r.maxSeq {
		t.Seqs[s] = seq
	}
	return t
}

// DefaultWriteTimeout bounds a write when neither the caller's context nor
// Options set a shorter deadline.
const DefaultWriteTimeout = 30 * time.Second

// Options configure an Indexer.
type Options struct {
	// WriteTimeout bounds every write: past it, the documents JetStream
	// has not confirmed are reported unconfirmed (retryable). Zero means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Registerer receives the indexer's metrics (metrics.go); nil records
	// none.
	Registerer prometheus.Registerer
	// Logger receives a line for every write with documents JetStream did
	// not store (default slog.Default()).
	Logger *slog.Logger
}

// Indexer publishes writes.
type Indexer struct {
	js      jetstream.JetStream
	nc      *nats.Conn
	cat     *catalog.Catalog
	opts    Options
	metrics *metrics // nil: none
	log     *slog.Logger
}

// New returns an indexer publishing through js.
func New(nc *nats.Conn, js jetstream.JetStream, cat *catalog.Catalog, opts Options) *Indexer {
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Indexer{nc: nc, js: js, cat: cat, opts: opts, metrics: newMetrics(opts.Registerer), log: opts.Logger}
}

// ParseNDJSON reads a bulk body: one JSON object per line, each with a
// string "id"; {"id":"x","_delete":true} deletes x. Lines that are not
// valid come back as DocErrors; blank lines are skipped.
func ParseNDJSON(r io.Reader, maxLine int) ([]Op, []DocError, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	var ops []Op
	var bad []DocError
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		op, err := ParseDoc(b)
		if err != nil {
			bad = append(bad, DocError{Line: line, ID: op.ID, Err: err.Error()})
			continue
		}
		op.Line = line
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return ops, bad, fmt.Errorf("line %d is longer than %d bytes: %w", line+1, maxLine, err)
		}
		return ops, bad, err
	}
	return ops, bad, nil
}

// ParseDoc validates one document (or delete marker) given as a JSON object.
func ParseDoc(b []byte) (Op, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return Op{}, fmt.Errorf("invalid JSON object: %w", err)
	}
	if fields == nil {
		return Op{}, errors.New("document must be a JSON object")
	}
	rawID, ok := fields["id"]
	if !ok {
		return Op{}, errors.New(`document has no "id" field`)
	}
	id, err := decodeID(rawID)
	if err != nil {
		return Op{}, err
	}
	if err := ValidID(id); err != nil {
		return Op{ID: id}, err
	}
	op := Op{ID: id}
	if del, ok := fields["_delete"]; ok {
		var d bool
		if err := json.Unmarshal(del, &d); err != nil {
			return op, errors.New(`"_delete" must be a boolean`)
		}
		if d {
			op.Delete = true
			return op, nil
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return op, err
	}
	op.Doc = buf.Bytes()
	return op, nil
}

// decodeID decodes a JSON string id exactly. encoding/json would turn bytes
// that are not UTF-8, and escaped lone surrogates, into U+FFFD: the id
// stored would not be the id sent, so such ids are refused instead.
func decodeID(raw json.RawMessage) (string, error) {
	var id string
	if err := json.Unmarshal(raw, &id); err != nil {
		return "", errors.New(`"id" must be a string`)
	}
	if !utf8.Valid(raw) {
		return "", errors.New(`"id" is not valid UTF-8`)
	}
	if strings.ContainsRune(id, utf8.RuneError) && !bytes.ContainsRune(raw, utf8.RuneError) &&
		!strings.Contains(strings.ToLower(string(raw)), `\ufffd`) {
		return "", errors.New(`"id" is not valid UTF-8 (it holds an unpaired surrogate escape)`)
	}
	return id, nil
}

// ValidID checks a document id: any valid UTF-8 string of 1 to MaxIDBytes
// bytes, stored byte for byte (whitespace included).
func ValidID(id string) error {
	switch {
	case id == "":
		return errors.New(`"id" must not be empty`)
	case len(id) > MaxIDBytes:
		return fmt.Errorf(`"id" is longer than %d bytes`, MaxIDBytes)
	case !utf8.ValidString(id):
		return errors.New(`"id" is not valid UTF-8`)
	}
	return nil
}

// Write publishes ops to index and waits until JetStream has stored each,
// within the write timeout. A document that JetStream did not store is
// reported in the result, with the kind of failure.
func (ix *Indexer) Write(ctx context.Context, index string, ops []Op) (*Result, error) {
	def, err := ix.cat.Index(index)
	if err != nil {
		return nil, err
	}
	begin := time.Now()
	wctx, cancel := context.WithTimeout(ctx, ix.opts.WriteTimeout)
	defer cancel()
	res := &Result{Errors: []DocError{}, IndexUID: def.UID, maxSeq: map[int]uint64{}}
	// Publish in windows so a large body never outruns the client's limit
	// of unacknowledged asynchronous publishes.
	for start := 0; start < len(ops); start += publishWindow {
		ix.publish(wctx, def, ops[start:min(start+publishWindow, len(ops))], res)
	}
	ix.metrics.written(def.Name, res, time.Since(begin).Seconds())
	if res.Failed > 0 {
		first := res.Errors[0]
		ix.log.WarnContext(ctx, "documents not written", "index", def.Name, "failed", res.Failed, "of", len(ops),
			"first_line", first.Line, "first_type", first.Type, "first_error", first.Err, "retryable", first.Retryable)
	}
	res.Token = res.Written().String()
	return res, nil
}

// Refused counts documents of index refused before they were written
// (lines of a bulk body that are not valid documents).
func (ix *Indexer) Refused(index string, bad []DocError) {
	ix.metrics.rejected(index, len(bad))
}

// publishWindow is how many writes are in flight to JetStream at once.
const publishWindow = 4096

// headroom is what a write's subject and headers may take of the broker's
// payload limit besides the document.
const headroom = 1024

func (ix *Indexer) publish(ctx context.Context, def *meta.IndexDef, ops []Op, res *Result) {
	futures := make([]jetstream.PubAckFuture, len(ops))
	shards := make([]int, len(ops))
	maxDoc := int(ix.nc.MaxPayload()) - headroom
	for i, op := range ops {
		if len(op.Doc) > maxDoc {
			res.fail(op, &WriteError{Type: FailTooLarge, Err: fmt.Errorf("document of %d bytes is over the broker's limit of %d bytes", len(op.Doc), maxDoc)})
			continue
		}
		if ctx.Err() != nil {
			res.fail(op, ix.classify(def, ctx.Err()))
			continue
		}
		shard := meta.ShardOf(op.ID, def.Shards)
		shards[i] = shard
		msg := nats.NewMsg(protocol.IngestSubject(def.Name, def.UID, shard, op.ID))
		if op.Delete {
			msg.Header.Set(protocol.HeaderOp, protocol.OpDelete)
		} else {
			msg.Header.Set(protocol.HeaderOp, protocol.OpPut)
			msg.Data = op.Doc
		}
		f, err := ix.js.PublishMsgAsync(msg, jetstream.WithExpectStream(protocol.StreamName(def.Name)))
		if err != nil {
			res.fail(op, ix.classify(def, err))
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		op := ops[i]
		select {
		case ack := <-f.Ok():
			if ack.Sequence > res.maxSeq[shards[i]] {
				res.maxSeq[shards[i]] = ack.Sequence
			}
			if op.Delete {
				res.Deleted++
			} else {
				res.Indexed++
			}
		case err := <-f.Err():
			res.fail(op, ix.classify(def, err))
		case <-ctx.Done():
			res.fail(op, ix.classify(def, ctx.Err()))
		}
	}
}

// fail records a document JetStream did not store.
func (r *Result) fail(op Op, err error) {
	r.Failed++
	de := DocError{Line: op.Line, ID: op.ID, Err: err.Error(), Type: FailUnavailable, Retryable: true}
	var we *WriteError
	if errors.As(err, &we) {
		de.Type, de.Retryable = we.Type, we.Type.Retryable()
	}
	r.Errors = append(r.Errors, de)
}

// AddInvalid records documents rejected before publishing.
func (r *Result) AddInvalid(bad []DocError) {
	r.Failed += len(bad)
	for _, e := range bad {
		if e.Type == "" {
			e.Type = FailInvalid
		}
		r.Errors = append(r.Errors, e)
	}
}

// WaitSearchable blocks until every caught-up copy of every shard written by
// res has applied its writes, or until ctx ends. It sets res.Refreshed. The
// first shard that cannot confirm stops the wait for the others.
func (ix *Indexer) WaitSearchable(ctx context.Context, index string, res *Result) error {
	m := ix.cat.ShardMap(index)
	ok := true
	defer func() { res.Refreshed = &ok }()
	if m == nil {
		ok = len(res.maxSeq) == 0
		if !ok {
			return fmt.Errorf("index %s has no placement yet", index)
		}
		return nil
	}
	timeout := 30 * time.Second
	if dl, has := ctx.Deadline(); has {
		timeout = time.Until(dl)
	}
	var waits []shardWait
	for shard, seq := range res.maxSeq {
		if shard < len(m.Copies) {
			waits = append(waits, shardWait{shard: shard, seq: seq, nodes: m.Copies[shard]})
		}
	}
	out := fanout.Run(ctx, waits, fanout.Options{StopOnFailure: true}, func(ctx context.Context, w shardWait) (struct{}, error) {
		return struct{}{}, ix.waitShard(ctx, index, w, timeout)
	})
	if err := out.FirstErr(); err != nil {
		ok = false
		return err
	}
	return nil
}

// shardWait is one shard WaitSearchable waits for: the sequence its copies
// must have applied.
type shardWait struct {
	shard int
	seq   uint64
	nodes []string
}

// waitShard waits until every serving copy of w's shard has applied w.seq;
// at least one copy must confirm.
func (ix *Indexer) waitShard(ctx context.Context, index string, w shardWait, timeout time.Duration) error {
	confirmed := 0
	for _, node := range w.nodes {
		data, _ := json.Marshal(protocol.WaitRequest{Seq: w.seq, Timeout: timeout})
		subject := protocol.CopySubject(node, index, w.shard, protocol.OpWait)
		msg, err := ix.nc.RequestWithContext(ctx, subject, data)
		for errors.Is(err, nats.ErrNoResponders) && ix.cat.Live(node) {
			// A live copy that is still opening or catching up
			// will serve soon; one on a dead node is not searched.
			select {
			case <-ctx.Done():
				return fmt.Errorf("shard %d on %s: %w", w.shard, node, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
			msg, err = ix.nc.RequestWithContext(ctx, subject, data)
		}
		if errors.Is(err, nats.ErrNoResponders) {
			continue
		}
		if err != nil {
			return fmt.Errorf("shard %d on %s: %w", w.shard, node, err)
		}
		var st meta.CopyStatus
		if err := protocol.DecodeReply(msg, &st); err != nil {
			return fmt.Errorf("shard %d on %s: %w", w.shard, node, err)
		}
		confirmed++
	}
	if confirmed == 0 {
		return fmt.Errorf("shard %d: no copy is serving", w.shard)
	}
	return nil
}
