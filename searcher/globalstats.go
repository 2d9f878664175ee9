package searcher

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/registry"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"

	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/rewrite"
)

// How global statistics reach Bleve's scorer without forking it.
//
// Bleve's BM25 term scorer takes the corpus size and average field length
// from its BM25 presearch data, but each term's document frequency from
// TermFieldReader.Count() of the local index. Shoal registers its own index
// type, IndexType: Bleve's scorch whose readers wrap TermFieldReader. The
// reader sees the request's context; when that context carries global
// statistics, the returned term reader counts the term's documents over the
// whole index instead of this shard. During a presearch the same hook records
// every (field, term) the query touches, fuzzy and prefix expansions
// included, with its local count.
//
// Multi-term queries (prefix, fuzzy, regexp, wildcard) expand against the
// local term dictionary. So that every shard builds the same searcher tree
// (and so the same query normalisation), the globally known terms are handed
// to Bleve as a synonym-term map (FieldTermSynonymMapKey): Bleve's expansion
// code adds those of them that match the pattern, with their edit distance.

// IndexType is the name under which the stats-aware scorch index type is
// registered with Bleve.
const IndexType = "shoal-scorch"

func init() {
	// Registering an index type is Bleve's extension point; it is a
	// process-wide registry by Bleve's design.
	if err := registry.RegisterIndexType(IndexType, newStatsIndex); err != nil {
		panic(err)
	}
}

type ctxKey int

const (
	statsKey ctxKey = iota
	recorderKey
)

// statsIndex is a scorch index whose readers apply global statistics.
type statsIndex struct {
	*scorch.Scorch
	// automata are the fuzzy automata its readers share (nil: none
	// kept); see fuzzy.go.
	automata atomic.Pointer[automata]
	// expanded are the fuzzy expansions found on its current snapshot
	// (expansions.go).
	expanded expansionCache
}

func newStatsIndex(storeName string, config map[string]interface{}, q *index.AnalysisQueue) (index.Index, error) {
	idx, err := scorch.NewScorch(storeName, config, q)
	if err != nil {
		return nil, err
	}
	s, ok := idx.(*scorch.Scorch)
	if !ok {
		return nil, fmt.Errorf("searcher: scorch returned %T", idx)
	}
	return &statsIndex{Scorch: s}, nil
}

// Reader wraps scorch's snapshot reader.
func (s *statsIndex) Reader() (index.IndexReader, error) {
	r, err := s.Scorch.Reader()
	if err != nil {
		return nil, err
	}
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return r, nil
	}
	return &statsReader{IndexSnapshot: snap, automata: s.automata.Load(), expanded: &s.expanded}, nil
}

// statsReader is a scorch snapshot whose term readers honour global
// statistics and record presearch terms.
type statsReader struct {
	*scorch.IndexSnapshot
	automata *automata
	expanded *expansionCache
}

// TermFieldReader returns scorch's term reader, with its document count
// replaced by the global one when the context carries global statistics.
func (r *statsReader) TermFieldReader(ctx context.Context, term []byte, field string,
	includeFreq, includeNorm, includeTermVectors bool) (index.TermFieldReader, error) {
	if rec, ok := recorderOf(ctx); ok {
		// A presearch builds the query's searcher only to see its terms,
		// and never runs it: the term's count is all it needs.
		n, err := rec.docs(r.IndexSnapshot, field, term)
		if err != nil {
			return nil, err
		}
		// A term no document holds is not recorded: were it in the
		// global statistics, every shard would hand it to Bleve's fuzzy
		// expansion as a candidate that one merged index never has (Bleve
		// asks for the query's own term when nothing else matches).
		if n > 0 {
			rec.add(field, string(term), n)
		}
		return countReader(n), nil
	}
	tfr, err := r.IndexSnapshot.TermFieldReader(ctx, term, field, includeFreq, includeNorm, includeTermVectors)
	if err != nil || ctx == nil {
		return tfr, err
	}
	if st, ok := ctx.Value(statsKey).(*protocol.GlobalStats); ok {
		if df, ok := st.Terms[field][string(term)]; ok {
			return &globalCountReader{TermFieldReader: tfr, count: df}, nil
		}
	}
	return tfr, nil
}

// recorderOf returns the term recorder ctx carries: a presearch's.
func recorderOf(ctx context.Context) (*termRecorder, bool) {
	if ctx == nil {
		return nil, false
	}
	rec, ok := ctx.Value(recorderKey).(*termRecorder)
	return rec, ok
}

// countReader is a term reader that holds only its term's count, and no
// documents: what a presearch's searchers are built with.
type countReader uint64

func (c countReader) Next(*index.TermFieldDoc) (*index.TermFieldDoc, error) { return nil, nil }
func (c countReader) Advance(index.IndexInternalID, *index.TermFieldDoc) (*index.TermFieldDoc, error) {
	return nil, nil
}
func (c countReader) Count() uint64 { return uint64(c) }
func (c countReader) Close() error  { return nil }
func (c countReader) Size() int     { return 0 }

// globalCountReader reports the index-wide document count of its term.
type globalCountReader struct {
	index.TermFieldReader
	count uint64
}

func (g *globalCountReader) Count() uint64 { return g.count }

// termRecorder collects the terms a query touches during presearch, on
// one snapshot of a shard.
type termRecorder struct {
	mu    sync.Mutex
	terms map[string]map[string]uint64
	// dicts are the snapshot's segments' dictionaries of the fields
	// counted in so far, pl a postings list to reuse.
	dicts map[string][]segment.TermDictionary
	pl    segment.PostingsList
}

// docs is the number of documents of snap that hold term in field, as
// scorch's term reader counts them (each segment's postings but its
// deleted documents). Unlike that reader, which opens every segment's
// dictionary for each term, it opens them once per field, and reads no
// postings.
func (t *termRecorder) docs(snap *scorch.IndexSnapshot, field string, term []byte) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	segs := snap.Segments()
	dicts, ok := t.dicts[field]
	if !ok {
		dicts = make([]segment.TermDictionary, len(segs))
		for i, ss := range segs {
			d, err := ss.Segment().Dictionary(field)
			if err != nil {
				return 0, fmt.Errorf("presearch: dictionary of %s: %w", field, err)
			}
			dicts[i] = d
		}
		if t.dicts == nil {
			t.dicts = map[string][]segment.TermDictionary{}
		}
		t.dicts[field] = dicts
	}
	var n uint64
	for i, ss := range segs {
		if dicts[i] == nil {
			continue
		}
		pl, err := dicts[i].PostingsList(term, ss.Deleted(), t.pl)
		if err != nil {
			return 0, fmt.Errorf("presearch: postings of %s: %w", field, err)
		}
		t.pl = pl
		n += pl.Count()
	}
	return n, nil
}

func (t *termRecorder) add(field, term string, count uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.terms[field]
	if m == nil {
		m = make(map[string]uint64)
		t.terms[field] = m
	}
	m[term] = count
}

// count is the number of distinct (field, term) pairs recorded.
func (t *termRecorder) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, m := range t.terms {
		n += len(m)
	}
	return n
}

// Presearch answers a presearch from one snapshot of the shard: its applied
// sequence, its document count, the term tables of fields (those whose
// sequence in have is not the snapshot's), and, when q is set, the local
// document frequency of every term q would score, expansions included.
// For q it builds the query's searcher (which expands multi-term queries)
// but does not run it; more than maxScored terms is a *rewrite.LimitError.
// Constant-score clauses (rewrite) contribute no terms and build nothing
// here.
func (s *Shard) Presearch(ctx context.Context, q query.Query, fields []string, have map[string]uint64, maxScored int) (*protocol.PresearchResponse, error) {
	adv, err := s.idx.Advanced()
	if err != nil {
		return nil, fmt.Errorf("presearch: %w", err)
	}
	reader, err := adv.Reader()
	if err != nil {
		return nil, fmt.Errorf("presearch: reader: %w", err)
	}
	defer reader.Close()
	sr, ok := reader.(*statsReader)
	if !ok {
		return nil, fmt.Errorf("presearch: reader %T is not scorch's", reader)
	}
	seq, err := snapshotSeq(sr.IndexSnapshot)
	if err != nil {
		return nil, fmt.Errorf("presearch: %w: %w", ErrStatsRead, err)
	}
	st, err := localStats(ctx, reader, s.mapping, q, fields, maxScored)
	if err != nil {
		return nil, err
	}
	resp := &protocol.PresearchResponse{AppliedSeq: seq, Stats: *st}
	for _, f := range fields {
		if h, ok := have[f]; ok && h == seq {
			continue
		}
		raw, err := s.termTable(sr.IndexSnapshot, seq, f)
		if err != nil {
			return nil, fmt.Errorf("presearch: %w: %w", ErrStatsRead, err)
		}
		if resp.Tables == nil {
			resp.Tables = make(map[string][]byte, len(fields))
		}
		resp.Tables[f] = raw
	}
	return resp, nil
}

// ErrStatsRead marks a presearch that failed reading the shard, not
// because of its query.
var ErrStatsRead = errors.New("reading the shard's statistics")

// localStats are reader's document count, the local BM25 cardinality of
// fields and of the fields q reads, and, for q (nil: none), the local
// document frequency of every term it would score.
func localStats(ctx context.Context, reader index.IndexReader, m mapping.IndexMapping, q query.Query, fields []string, maxScored int) (*protocol.GlobalStats, error) {
	rec := &termRecorder{terms: make(map[string]map[string]uint64)}
	all := search.NewFieldSet()
	for _, f := range fields {
		all.AddField(f)
	}
	if q != nil {
		sctx := rewrite.Presearch(context.WithValue(ctx, recorderKey, rec))
		s, err := q.Searcher(sctx, reader, m, search.SearcherOptions{})
		if err != nil {
			return nil, fmt.Errorf("presearch: %w", err)
		}
		if err := s.Close(); err != nil {
			return nil, fmt.Errorf("presearch: close searcher: %w", err)
		}
		if n := rec.count(); n > maxScored {
			return nil, &rewrite.LimitError{Limit: "max_scored_terms", Max: maxScored,
				Detail: fmt.Sprintf("the query scores %d terms (fuzzy expansions included)", n)}
		}
		if all, err = query.ExtractFields(q, m, all); err != nil {
			return nil, fmt.Errorf("presearch: fields: %w", err)
		}
	}
	docs, err := reader.DocCount()
	if err != nil {
		return nil, fmt.Errorf("presearch: doc count: %w", err)
	}
	for f := range rec.terms {
		all.AddField(f)
	}
	st := &protocol.GlobalStats{DocCount: docs, Fields: make(map[string]int, len(all)), Terms: rec.terms}
	bm, _ := reader.(index.BM25Reader)
	for f := range all {
		if bm == nil {
			st.Fields[f] = 0
			continue
		}
		c, err := bm.FieldCardinality(f)
		if err != nil {
			return nil, fmt.Errorf("presearch: field %s: %w", f, err)
		}
		st.Fields[f] = c
	}
	return st, nil
}

// withGlobalStats prepares ctx and req so that Bleve scores req with st.
// Fields the query reads that st does not cover (statistics gathered for
// another state of the index) are scored with local figures from local.
// Statistics that count fewer documents than the shard holds (gathered
// from a copy behind this one) count at least localDocs: with none at all,
// BM25's mean field length would be 0/0 and every score NaN.
func withGlobalStats(ctx context.Context, req *bleve.SearchRequest, gs *Stats, m mapping.IndexMapping, local func(field string) int, localDocs uint64) context.Context {
	if gs == nil || gs.GlobalStats == nil {
		return ctx
	}
	st := gs.GlobalStats
	ctx = context.WithValue(ctx, statsKey, st)
	fields := gs.cardinalities()
	if req.Query != nil && local != nil {
		if fs, err := query.ExtractFields(req.Query, m, search.NewFieldSet()); err == nil {
			shared := true
			for f := range fs {
				if _, ok := st.Fields[f]; ok {
					continue
				}
				if shared { // the statistics' own map is shared: copy it first
					fields, shared = maps.Clone(fields), false
				}
				fields[f] = local(f)
			}
		}
	}
	if req.PreSearchData == nil {
		req.PreSearchData = make(map[string]interface{})
	}
	req.PreSearchData[search.BM25PreSearchDataKey] = &search.BM25Stats{
		DocCount:         float64(max(st.DocCount, localDocs)),
		FieldCardinality: fields,
	}
	if len(st.Terms) > 0 && expands(req.Query) {
		ctx = context.WithValue(ctx, search.FieldTermSynonymMapKey, gs.termMap())
	}
	return ctx
}

// Stats are global statistics ready to score with. A node decodes the
// statistics of a query once and shares them between every search that
// carries the same ones, so what is derived from them is built once too.
type Stats struct {
	*protocol.GlobalStats

	once  sync.Once
	terms search.FieldTermSynonymMap

	fieldsOnce sync.Once
	fields     map[string]int
}

// cardinalities are the fields' cardinalities to score with: the
// statistics' own, and 0 for a field they hold terms of but no
// cardinality. Built once and shared by every search with these
// statistics: Bleve only reads it.
func (s *Stats) cardinalities() map[string]int {
	s.fieldsOnce.Do(func() {
		s.fields = make(map[string]int, len(s.Fields)+len(s.Terms))
		maps.Copy(s.fields, s.Fields)
		for f := range s.Terms {
			if _, ok := s.fields[f]; !ok {
				s.fields[f] = 0
			}
		}
	})
	return s.fields
}

// NewStats prepares st for scoring (nil for none).
func NewStats(st *protocol.GlobalStats) *Stats {
	if st == nil {
		return nil
	}
	return &Stats{GlobalStats: st}
}

// termMap is every known term per field in the form Bleve's multi-term
// searchers take "synonyms" in: expansions they then build whether or not
// the shard's own dictionary holds them. Bleve only reads it.
func (s *Stats) termMap() search.FieldTermSynonymMap {
	s.once.Do(func() {
		s.terms = make(search.FieldTermSynonymMap, len(s.Terms))
		for f, terms := range s.Terms {
			m := make(map[string][]string, len(terms))
			for t := range terms {
				m[t] = nil
			}
			s.terms[f] = m
		}
	})
	return s.terms
}

// expands reports whether q may expand terms against the term dictionary
// (prefix, wildcard, regexp and fuzzy queries, fuzzy match queries). Only
// then are the globally known terms handed to Bleve's expansion code;
// plain terms need no help, and wrapping each of them would cost time.
// Query types it does not know count as expanding.
func expands(q query.Query) bool {
	switch q := q.(type) {
	case nil:
		return false
	case *query.QueryStringQuery:
		parsed, err := q.Parse()
		return err != nil || expands(parsed)
	case *query.BooleanQuery:
		return expands(q.Must) || expands(q.Should) || expands(q.MustNot) || expands(q.Filter)
	case *query.ConjunctionQuery:
		for _, c := range q.Conjuncts {
			if expands(c) {
				return true
			}
		}
		return false
	case *query.DisjunctionQuery:
		for _, d := range q.Disjuncts {
			if expands(d) {
				return true
			}
		}
		return false
	case *query.MatchQuery:
		return q.Fuzziness != 0
	case *query.MatchPhraseQuery:
		return q.Fuzziness != 0
	case *query.TermQuery, *query.PhraseQuery, *query.MultiPhraseQuery, *query.MatchAllQuery,
		*query.MatchNoneQuery, *query.NumericRangeQuery, *query.DateRangeQuery, *query.DocIDQuery,
		*query.BoolFieldQuery, *rewrite.ConstantTerms, *rewrite.Exists:
		return false
	default:
		return true
	}
}
