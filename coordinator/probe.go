package coordinator

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	bquery "github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/rewrite"
)

// termProbe finds the terms a query scores, and the fields it reads,
// without asking any shard: Bleve builds the query's searcher, with the
// index's own mapping, over an empty index whose term readers record every
// term asked for. A shard building the same query asks for the same terms
// whenever they do not depend on its dictionary: for term, match, phrase
// and match-phrase queries without fuzziness, and boolean combinations of
// them and of constant-score clauses (fixedTerms). Any other query, or one
// whose searcher reads a term dictionary (an automatic fuzziness, say), is
// not probed: its statistics come from a presearch (presearch.go).
type termProbe struct {
	empty bleve.Index

	mu       sync.Mutex
	mappings map[string]*mapping.IndexMappingImpl // by index UID
}

// maxProbeMappings bounds the mappings kept; past it they are built again.
const maxProbeMappings = 256

func newTermProbe() (*termProbe, error) {
	idx, err := bleve.NewMemOnly(bleve.NewIndexMapping())
	if err != nil {
		return nil, fmt.Errorf("coordinator: empty index: %w", err)
	}
	return &termProbe{empty: idx, mappings: map[string]*mapping.IndexMappingImpl{}}, nil
}

// probedTerm is one term a query scores.
type probedTerm struct {
	field, term string
	hash        uint64
}

// queryTerms are the fields a query reads and the terms it scores.
type queryTerms struct {
	fields []string // sorted
	terms  []probedTerm
}

// mapping returns def's mapping, built once.
func (p *termProbe) mapping(def *meta.IndexDef) (*mapping.IndexMappingImpl, error) {
	p.mu.Lock()
	m, ok := p.mappings[def.UID]
	p.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := meta.BuildMapping(def.Mapping)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if len(p.mappings) >= maxProbeMappings {
		clear(p.mappings)
	}
	p.mappings[def.UID] = m
	p.mu.Unlock()
	return m, nil
}

// terms probes q (as rewrite.Query returned it) on def's mapping; ok is
// false when q's terms depend on the shards' dictionaries.
func (p *termProbe) terms(ctx context.Context, def *meta.IndexDef, q bquery.Query) (*queryTerms, bool) {
	if !fixedTerms(q) {
		return nil, false
	}
	m, err := p.mapping(def)
	if err != nil || m.SynonymCount() > 0 {
		return nil, false
	}
	adv, err := p.empty.Advanced()
	if err != nil {
		return nil, false
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, false
	}
	defer r.Close()
	rec := &recordingReader{IndexReader: r, seen: map[[2]string]bool{}}
	s, err := q.Searcher(rewrite.Presearch(ctx), rec, m, search.SearcherOptions{})
	if err != nil || rec.dict {
		return nil, false
	}
	_ = s.Close()
	fields, err := bquery.ExtractFields(q, m, search.NewFieldSet())
	if err != nil {
		return nil, false
	}
	for _, t := range rec.terms {
		fields.AddField(t.field)
	}
	qt := &queryTerms{fields: make([]string, 0, len(fields)), terms: rec.terms}
	for f := range fields {
		qt.fields = append(qt.fields, f)
	}
	sort.Strings(qt.fields)
	return qt, true
}

// recordingReader is an index reader that records the terms a searcher
// asks for, and whether it read a term dictionary.
type recordingReader struct {
	index.IndexReader
	terms []probedTerm
	seen  map[[2]string]bool
	dict  bool
}

func (r *recordingReader) TermFieldReader(ctx context.Context, term []byte, field string, freq, norm, vectors bool) (index.TermFieldReader, error) {
	if k := [2]string{field, string(term)}; !r.seen[k] {
		r.seen[k] = true
		r.terms = append(r.terms, probedTerm{field: field, term: k[1], hash: protocol.TermHash(k[1])})
	}
	return r.IndexReader.TermFieldReader(ctx, term, field, freq, norm, vectors)
}

func (r *recordingReader) FieldDict(field string) (index.FieldDict, error) {
	r.dict = true
	return r.IndexReader.FieldDict(field)
}

func (r *recordingReader) FieldDictRange(field string, start, end []byte) (index.FieldDict, error) {
	r.dict = true
	return r.IndexReader.FieldDictRange(field, start, end)
}

func (r *recordingReader) FieldDictPrefix(field string, prefix []byte) (index.FieldDict, error) {
	r.dict = true
	return r.IndexReader.FieldDictPrefix(field, prefix)
}

// fixedTerms reports whether the terms q scores follow from q and the
// mapping alone, whatever the index holds.
func fixedTerms(q bquery.Query) bool {
	switch q := q.(type) {
	case nil, *bquery.MatchAllQuery, *bquery.MatchNoneQuery, *bquery.DocIDQuery, *bquery.TermQuery,
		*bquery.BoolFieldQuery, *rewrite.Exists, *rewrite.ConstantTerms:
		return true
	case *bquery.MatchQuery:
		return q.Fuzziness == 0
	case *bquery.MatchPhraseQuery:
		return q.Fuzziness == 0
	case *bquery.PhraseQuery:
		return q.Fuzziness == 0
	case *bquery.MultiPhraseQuery:
		return q.Fuzziness == 0
	case *bquery.BooleanQuery:
		return fixedTerms(q.Must) && fixedTerms(q.Should) && fixedTerms(q.MustNot) && fixedTerms(q.Filter)
	case *bquery.ConjunctionQuery:
		for _, c := range q.Conjuncts {
			if !fixedTerms(c) {
				return false
			}
		}
		return true
	case *bquery.DisjunctionQuery:
		for _, d := range q.Disjuncts {
			if !fixedTerms(d) {
				return false
			}
		}
		return true
	default:
		return false
	}
}
