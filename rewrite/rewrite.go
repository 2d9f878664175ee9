// Package rewrite turns the query a user sent into the query every shard
// runs, so that its cost is bounded whatever the corpus:
//
//   - "match everything" in any spelling (`*`, `*:*`, match_all) becomes a
//     match-all query: no term is expanded and no statistics are needed;
//   - `field:*` becomes an exists query: the documents that have a term in
//     the field, found with a roaring bitmap, at a constant score;
//   - prefix, wildcard and regexp queries are rewritten to constant score, as
//     Elasticsearch does by default: the matching terms' postings are OR-ed
//     into a roaring bitmap and every match scores its boost, so they need
//     no per-term statistics and their expansion is never shipped between
//     nodes; past Limits.MaxExpansions matching terms on a shard the query
//     is refused;
//   - fuzzy queries keep BM25 scoring with global statistics; the number of
//     terms a query may score (its own terms plus fuzzy expansions) is
//     bounded by Limits.MaxScoredTerms, checked where they are gathered;
//   - the boolean structure is bounded in clauses and depth.
//
// The coordinator calls Query to validate a request and to learn whether it
// needs global statistics; every searcher node calls it again on the query
// it decoded (the rewritten types are not sent over the wire), so every
// shard runs the same tree as one fully merged index with the same rewrite.
package rewrite

import (
	"errors"
	"fmt"

	"github.com/blevesearch/bleve/v2/search/query"
)

// Default limits.
const (
	// DefaultMaxClauses is the most leaf clauses a query may hold
	// (Elasticsearch's indices.query.bool.max_clause_count was 1,024).
	DefaultMaxClauses = 1024
	// DefaultMaxDepth is the deepest nesting of boolean clauses.
	DefaultMaxDepth = 32
	// DefaultMaxExpansions is the most terms one constant-score prefix,
	// wildcard or regexp clause may match in one shard.
	DefaultMaxExpansions = 100_000
	// DefaultMaxScoredTerms is the most distinct terms one query may score
	// with global statistics, fuzzy expansions included.
	DefaultMaxScoredTerms = 4096
)

// Limits bound the work of one query. Zero fields take the defaults.
type Limits struct {
	MaxClauses     int
	MaxDepth       int
	MaxExpansions  int
	MaxScoredTerms int
}

// WithDefaults returns l with zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxClauses <= 0 {
		l.MaxClauses = DefaultMaxClauses
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxExpansions <= 0 {
		l.MaxExpansions = DefaultMaxExpansions
	}
	if l.MaxScoredTerms <= 0 {
		l.MaxScoredTerms = DefaultMaxScoredTerms
	}
	return l
}

// ErrLimit is matched by errors.Is for every *LimitError.
var ErrLimit = errors.New("query limit exceeded")

// LimitError says which limit a query went past.
type LimitError struct {
	// Limit names the limit: "max_clauses", "max_depth",
	// "max_expansions" or "max_scored_terms".
	Limit string
	Max   int
	// Detail says what went past it.
	Detail string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: the limit %s is %d", e.Detail, e.Limit, e.Max)
}

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// Query returns q rewritten for bounded cost (see the package comment). Query
// strings are parsed. It fails with a *LimitError past a limit, or with the
// parser's error for an unparsable query string.
func Query(q query.Query, l Limits) (query.Query, error) {
	w := walker{limits: l.WithDefaults()}
	return w.walk(q, 0)
}

type walker struct {
	limits  Limits
	clauses int
	src     string // the query string being walked, for errors
}

func (w *walker) leaf() error {
	w.clauses++
	if w.clauses > w.limits.MaxClauses {
		return &LimitError{Limit: "max_clauses", Max: w.limits.MaxClauses, Detail: "the query has too many clauses"}
	}
	return nil
}

func (w *walker) walk(q query.Query, depth int) (query.Query, error) {
	if depth > w.limits.MaxDepth {
		return nil, &LimitError{Limit: "max_depth", Max: w.limits.MaxDepth, Detail: "the query is nested too deeply"}
	}
	switch q := q.(type) {
	case nil:
		return nil, nil
	case *query.QueryStringQuery:
		if err := checkSyntax(q.Query); err != nil {
			return nil, err
		}
		parsed, err := q.Parse()
		if err != nil {
			return nil, fmt.Errorf("query string: %w", err)
		}
		w.src = q.Query
		return w.walk(parsed, depth)
	case *query.BooleanQuery:
		return w.boolean(q, depth)
	case *query.ConjunctionQuery:
		out := *q
		var err error
		out.Conjuncts, err = w.list(q.Conjuncts, depth)
		return &out, err
	case *query.DisjunctionQuery:
		out := *q
		var err error
		out.Disjuncts, err = w.list(q.Disjuncts, depth)
		return &out, err
	}
	if err := w.leaf(); err != nil {
		return nil, err
	}
	if err := checkValue(q, w.src); err != nil {
		return nil, err
	}
	return w.rewriteLeaf(q)
}

func (w *walker) boolean(q *query.BooleanQuery, depth int) (query.Query, error) {
	out := *q
	for _, part := range []*query.Query{&out.Must, &out.Should, &out.MustNot, &out.Filter} {
		if *part == nil {
			continue
		}
		p, err := w.walk(*part, depth+1)
		if err != nil {
			return nil, err
		}
		*part = p
	}
	// A query string of one clause parses to a boolean with one should
	// clause. When that clause matches everything, the boolean scores as
	// the match-all alone does, so the match-all alone is run.
	if out.Must == nil && out.MustNot == nil && out.Filter == nil {
		if d, ok := out.Should.(*query.DisjunctionQuery); ok && len(d.Disjuncts) == 1 {
			if ma, ok := d.Disjuncts[0].(*query.MatchAllQuery); ok && q.BoostVal == nil {
				return ma, nil
			}
		}
	}
	return &out, nil
}

func (w *walker) list(qs []query.Query, depth int) ([]query.Query, error) {
	out := make([]query.Query, len(qs))
	for i, c := range qs {
		p, err := w.walk(c, depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func (w *walker) rewriteLeaf(q query.Query) (query.Query, error) {
	switch q := q.(type) {
	case *query.WildcardQuery:
		if isMatchAll(q.Wildcard) {
			if q.FieldVal == "" || q.FieldVal == "*" || q.FieldVal == "_all" {
				return matchAll(q.BoostVal), nil
			}
			return &Exists{Field: q.FieldVal, BoostVal: q.BoostVal}, nil
		}
		return &ConstantTerms{Kind: KindWildcard, Pattern: q.Wildcard, FieldVal: q.FieldVal, BoostVal: q.BoostVal, Max: w.limits.MaxExpansions}, nil
	case *query.PrefixQuery:
		if q.Prefix == "" {
			return &Exists{Field: q.FieldVal, BoostVal: q.BoostVal}, nil
		}
		return &ConstantTerms{Kind: KindPrefix, Pattern: q.Prefix, FieldVal: q.FieldVal, BoostVal: q.BoostVal, Max: w.limits.MaxExpansions}, nil
	case *query.RegexpQuery:
		return &ConstantTerms{Kind: KindRegexp, Pattern: q.Regexp, FieldVal: q.FieldVal, BoostVal: q.BoostVal, Max: w.limits.MaxExpansions}, nil
	}
	return q, nil
}

// isMatchAll reports whether a wildcard matches every term.
func isMatchAll(pattern string) bool {
	if pattern == "" {
		return false
	}
	for _, r := range pattern {
		if r != '*' {
			return false
		}
	}
	return true
}

func matchAll(b *query.Boost) *query.MatchAllQuery {
	q := query.NewMatchAllQuery()
	q.BoostVal = b
	return q
}

// Scores reports whether q (as Query returned it) scores any term with
// statistics, and so needs the global statistics of a presearch. A query
// made only of match-all, exists and constant-score clauses does not.
func Scores(q query.Query) bool {
	switch q := q.(type) {
	case nil, *query.MatchAllQuery, *query.MatchNoneQuery, *Exists, *ConstantTerms, *query.DocIDQuery:
		return false
	case *query.BooleanQuery:
		return Scores(q.Must) || Scores(q.Should) || Scores(q.MustNot) || Scores(q.Filter)
	case *query.ConjunctionQuery:
		for _, c := range q.Conjuncts {
			if Scores(c) {
				return true
			}
		}
		return false
	case *query.DisjunctionQuery:
		for _, d := range q.Disjuncts {
			if Scores(d) {
				return true
			}
		}
		return false
	default:
		return true
	}
}
