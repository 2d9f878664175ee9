package searcher

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/shoal-search/shoal/lru"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// appliedKey is the internal key under which a shard stores the last stream
// sequence it applied, committed in the same batch as the documents.
var appliedKey = []byte("shoal.applied_seq")

// Write is one document write taken from the shard's stream.
type Write struct {
	Seq uint64
	Op  string // protocol.OpPut or protocol.OpDelete
	ID  string
	Doc json.RawMessage
	// Err, when set, says why the write must not be applied (an id that
	// does not belong to this shard, a subject that carries no id); Apply
	// skips it and reports it.
	Err error
}

// Rejected is a write Apply did not apply, and why.
type Rejected struct {
	Seq uint64
	ID  string
	Err error
}

// Shard is one copy of one shard: a Bleve index on disk plus the stream
// sequence it has applied.
type Shard struct {
	dir     string
	idx     bleve.Index
	mapping *mapping.IndexMappingImpl

	applied atomic.Uint64
	// unsynced holds a token per applied batch Bleve has not yet
	// persisted (at most maxUnsynced): batches are searchable once
	// applied and written to disk in the background (see Apply).
	unsynced chan struct{}
	// waiters counts the callers of WaitApplied still waiting; waiting
	// is signalled when one starts, so a consumer lingering to fill a
	// batch applies what it has at once.
	waiters atomic.Int32
	waiting chan struct{}
	mu      sync.Mutex
	changed chan struct{} // closed and replaced after every applied batch
	terms   fieldTerms
	// wrote is when the shard last took writes (unix nanoseconds; when
	// it was opened, before any); stopCompact stops a compaction in
	// progress, and merging is set while scorch has a force merge of
	// the shard's (compact.go).
	wrote       atomic.Int64
	stopCompact atomic.Pointer[context.CancelCauseFunc]
	merging     atomic.Bool
	fields      struct { // Fields' answer, for one applied sequence (mu)
		seq       uint64
		names     []string
		truncated bool
	}
}

// maxUnsynced is how many applied batches a shard lets Bleve persist in
// the background before the next batch waits. A batch and the applied
// sequence it carries reach the disk together, so a copy that crashes
// replays its stream from the last persisted one: its writes are in
// JetStream anyway.
const maxUnsynced = 2

// unsafeBatch is the Bleve option that lets a batch return once it is
// searchable, before it is persisted: a new map each time, since Bleve
// writes into the one it is given.
func unsafeBatch() map[string]interface{} {
	return map[string]interface{}{"unsafe_batch": true}
}

// ShardOptions configure a shard copy.
type ShardOptions struct {
	// TermSetBytes bounds the term tables the shard keeps (default
	// DefaultTermSetBytes).
	TermSetBytes int64
	// Automata, when set, are the fuzzy automata the shard shares with
	// the other shards of its node (else it keeps none).
	Automata *automata
}

// OpenShard opens the shard index in dir, creating it with m if absent.
func OpenShard(dir string, m *mapping.IndexMappingImpl, o ShardOptions) (*Shard, error) {
	if o.TermSetBytes <= 0 {
		o.TermSetBytes = DefaultTermSetBytes
	}
	var idx bleve.Index
	var err error
	if _, statErr := os.Stat(filepath.Join(dir, "index_meta.json")); statErr == nil {
		idx, err = bleve.OpenUsing(dir, unsafeBatch())
	} else {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return nil, fmt.Errorf("shard %s: %w", dir, err)
		}
		idx, err = bleve.NewUsing(dir, m, IndexType, bleve.Config.DefaultKVStore, unsafeBatch())
	}
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", dir, err)
	}
	if o.Automata != nil {
		if adv, err := idx.Advanced(); err == nil {
			if si, ok := adv.(*statsIndex); ok {
				si.automata.Store(o.Automata)
			}
		}
	}
	s := &Shard{dir: dir, idx: idx, mapping: m, changed: make(chan struct{}),
		unsynced: make(chan struct{}, maxUnsynced), waiting: make(chan struct{}, 1),
		terms: fieldTerms{entries: lru.New[string, fieldTermsEntry](o.TermSetBytes)}}
	s.wrote.Store(time.Now().UnixNano())
	v, err := idx.GetInternal(appliedKey)
	if err != nil {
		idx.Close()
		return nil, fmt.Errorf("shard %s: read applied seq: %w", dir, err)
	}
	if len(v) == 8 {
		s.applied.Store(binary.BigEndian.Uint64(v))
	}
	return s, nil
}

// closeSyncWait bounds how long Close waits for applied batches to be
// persisted (those that are not are replayed from the stream).
const closeSyncWait = 10 * time.Second

// Close waits, for at most closeSyncWait, until the applied batches are
// persisted, and closes the index.
func (s *Shard) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeSyncWait)
	defer cancel()
	for range maxUnsynced {
		if s.acquireSync(ctx) != nil {
			break
		}
	}
	return s.idx.Close()
}

// acquireSync takes a token of s.unsynced, waiting while maxUnsynced
// batches are being persisted.
func (s *Shard) acquireSync(ctx context.Context) error {
	select {
	case s.unsynced <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shard %s: waiting for batches to be persisted: %w", s.dir, ctx.Err())
	}
}

// AppliedSeq is the last stream sequence whose write is committed.
func (s *Shard) AppliedSeq() uint64 { return s.applied.Load() }

// Fields lists the fields of the shard's documents (Bleve's own
// bookkeeping fields left out), at most meta.MaxReportedFields of them;
// truncated says there are more. The list is kept until the next write.
func (s *Shard) Fields() (fields []string, truncated bool) {
	seq := s.AppliedSeq()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fields.seq == seq && s.fields.names != nil {
		return s.fields.names, s.fields.truncated
	}
	all, err := s.idx.Fields()
	if err != nil {
		return nil, true // unknown: the coordinator checks nothing
	}
	names := make([]string, 0, len(all))
	for _, f := range all {
		if f == meta.SourceField || f == "_id" || f == "_all" {
			continue
		}
		if len(names) == meta.MaxReportedFields {
			truncated = true
			break
		}
		names = append(names, f)
	}
	sort.Strings(names)
	s.fields.seq, s.fields.names, s.fields.truncated = seq, names, truncated
	return names, truncated
}

// Docs counts the documents in the shard.
func (s *Shard) Docs() (uint64, error) { return s.idx.DocCount() }

// Apply applies writes in one Bleve batch, together with the sequence of
// the last one, and wakes anyone waiting for those sequences. The batch is
// searchable when Apply returns and persisted in the background: Apply
// first waits, within ctx, while maxUnsynced batches are not persisted yet.
// Writes it cannot apply (marked by Err, or refused by Bleve) are skipped,
// so one bad write cannot block the shard's stream, and returned as
// rejected.
func (s *Shard) Apply(ctx context.Context, writes []Write) ([]Rejected, error) {
	if len(writes) == 0 {
		return nil, nil
	}
	s.tookWrites()
	defer s.tookWrites()
	var rejected []Rejected
	b := s.idx.NewBatch()
	for _, w := range writes {
		if err := s.add(b, w); err != nil {
			rejected = append(rejected, Rejected{Seq: w.Seq, ID: w.ID, Err: err})
		}
	}
	// The applied sequence never goes back, even for a write whose
	// metadata could not be read (Seq 0).
	last := max(writes[len(writes)-1].Seq, s.applied.Load())
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], last)
	b.SetInternal(appliedKey, seq[:])
	if err := s.acquireSync(ctx); err != nil {
		return nil, err
	}
	var release sync.Once
	b.SetPersistedCallback(func(error) { release.Do(func() { <-s.unsynced }) })
	if err := s.idx.Batch(b); err != nil {
		release.Do(func() { <-s.unsynced })
		return nil, fmt.Errorf("shard %s: batch: %w", s.dir, err)
	}
	s.applied.Store(last)
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return rejected, nil
}

// tookWrites records that the shard is taking writes, and stops a
// compaction in progress: writes win (compact.go).
func (s *Shard) tookWrites() {
	s.wrote.Store(time.Now().UnixNano())
	if stop := s.stopCompact.Load(); stop != nil {
		(*stop)(errWritesArrived)
	}
}

// add adds one write to b.
func (s *Shard) add(b *bleve.Batch, w Write) error {
	if w.Err != nil {
		return w.Err
	}
	if w.Op == protocol.OpDelete {
		b.Delete(w.ID)
		return nil
	}
	var doc map[string]any
	if err := json.Unmarshal(w.Doc, &doc); err != nil {
		return fmt.Errorf("document: %w", err)
	}
	doc[meta.SourceField] = string(w.Doc)
	if err := b.Index(w.ID, doc); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// WaitApplied blocks until the shard has applied seq or ctx ends. While
// it waits, the shard's consumer applies what it has without lingering
// (Waiting).
func (s *Shard) WaitApplied(ctx context.Context, seq uint64) error {
	if s.applied.Load() >= seq {
		return nil
	}
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	select {
	case s.waiting <- struct{}{}:
	default:
	}
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if s.applied.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Waiting returns a channel that receives when a caller starts waiting in
// WaitApplied, and whether one is waiting now.
func (s *Shard) Waiting() (<-chan struct{}, bool) {
	return s.waiting, s.waiters.Load() > 0
}

// Search runs a bleve search request, scoring with st when given. The
// result carries neither the request nor the hits' index names.
func (s *Shard) Search(ctx context.Context, req *bleve.SearchRequest, st *Stats) (*bleve.SearchResult, error) {
	wantSource := false
	for _, f := range req.Fields {
		if f == meta.SourceField {
			wantSource = true
		}
	}
	var docs uint64
	if st != nil {
		docs, _ = s.idx.DocCount()
	}
	ctx = withGlobalStats(ctx, req, st, s.mapping, s.localCardinality, docs)
	res, err := s.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, err
	}
	// The request is the caller's own and each hit's index is this
	// shard's local path: neither is worth sending over the wire (decoding
	// the echoed request cost the coordinator a query parse per shard).
	// Nor are term locations not asked for: Bleve keeps those a phrase
	// collected on its hits, and they travelled as JSON with every hit
	// of a phrase query.
	res.Request = nil
	for _, h := range res.Hits {
		h.Index = ""
		if !wantSource {
			delete(h.Fields, meta.SourceField)
		}
		if !req.IncludeLocations {
			h.Locations = nil
		}
	}
	return res, nil
}

// ErrNotFound is returned by Get for a document the shard does not hold.
var ErrNotFound = errors.New("document not found")

// Get returns the original JSON of document id.
func (s *Shard) Get(id string) (json.RawMessage, error) {
	doc, err := s.idx.Document(id)
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", id, err)
	}
	if doc == nil {
		return nil, ErrNotFound
	}
	var src json.RawMessage
	doc.VisitFields(func(f index.Field) {
		if f.Name() == meta.SourceField {
			src = append(json.RawMessage(nil), f.Value()...)
		}
	})
	if src == nil {
		return nil, ErrNotFound
	}
	return src, nil
}

// searchTimeout bounds a shard search whose request carries no timeout.
const searchTimeout = 30 * time.Second

// localCardinality is the shard's own BM25 figure for field (0 if unknown).
func (s *Shard) localCardinality(field string) int {
	adv, err := s.idx.Advanced()
	if err != nil {
		return 0
	}
	r, err := adv.Reader()
	if err != nil {
		return 0
	}
	defer r.Close()
	if bm, ok := r.(index.BM25Reader); ok {
		if n, err := bm.FieldCardinality(field); err == nil {
			return n
		}
	}
	return 0
}

// Segments counts the segments of the shard's current snapshot (in memory
// and on disk), 0 when it cannot be read (a closed index).
func (s *Shard) Segments() uint64 { return Segments(s.idx) }

// Segments counts the segments of a scorch index's current snapshot (in
// memory and on disk), 0 when it cannot be read (a closed index, another
// index type).
func Segments(idx bleve.Index) uint64 {
	n, _, _ := segmentSizes(idx)
	return uint64(n)
}

// segmentSizes counts the segments of idx's current snapshot, and the live
// documents of the largest and of all of them. (Scorch's own statistics
// lag: they leave out a batch's new segment and still count the ones a
// delete emptied until the next write.)
func segmentSizes(idx bleve.Index) (segments int, largest, docs uint64) {
	adv, err := idx.Advanced()
	if err != nil {
		return 0, 0, 0
	}
	r, err := adv.Reader()
	if err != nil {
		return 0, 0, 0
	}
	defer r.Close()
	snap, ok := r.(interface {
		Segments() []*scorch.SegmentSnapshot
	})
	if !ok {
		return 0, 0, 0
	}
	for _, ss := range snap.Segments() {
		n := ss.Count()
		docs += n
		largest = max(largest, n)
		segments++
	}
	return segments, largest, docs
}
