package rewrite

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
)

// Kinds of ConstantTerms.
const (
	KindPrefix   = "prefix"
	KindWildcard = "wildcard"
	KindRegexp   = "regexp"
)

// ConstantTerms matches the documents holding any term of a field that
// matches a prefix, wildcard or regexp, each at a constant score (its
// boost). It never travels: every node builds it from the user's query.
type ConstantTerms struct {
	Kind     string
	Pattern  string
	FieldVal string
	BoostVal *query.Boost
	// Max is the most terms it may match in one shard.
	Max int
}

// Exists matches the documents that have at least one term in Field, at a
// constant score (its boost).
type Exists struct {
	Field    string
	BoostVal *query.Boost
}

// presearchKey marks a context as a presearch's: constant-score clauses
// contribute no statistics, so they build no bitmap then.
type presearchKey struct{}

// Presearch returns ctx marked as a presearch's context.
func Presearch(ctx context.Context) context.Context {
	return context.WithValue(ctx, presearchKey{}, true)
}

func inPresearch(ctx context.Context) bool {
	v, _ := ctx.Value(presearchKey{}).(bool)
	return v
}

// Searcher implements query.Query.
func (q *ConstantTerms) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, o search.SearcherOptions) (search.Searcher, error) {
	field := q.FieldVal
	if field == "" {
		field = m.DefaultSearchField()
	}
	if ctx != nil && inPresearch(ctx) {
		return newBitmapSearcher(r, roaring.New(), q.BoostVal.Value(), o), nil
	}
	terms, err := q.terms(r, field)
	if err != nil {
		return nil, err
	}
	bm, err := unionPostings(r, field, terms)
	if err != nil {
		return nil, err
	}
	return newBitmapSearcher(r, bm, q.BoostVal.Value(), o), nil
}

// terms lists the field's terms the pattern matches in this shard.
func (q *ConstantTerms) terms(r index.IndexReader, field string) ([]string, error) {
	var dict index.FieldDict
	var err error
	keep := func(string) bool { return true }
	prefix, isPrefix := wildcardPrefix(q.Pattern)
	switch {
	case q.Kind == KindPrefix:
		dict, err = r.FieldDictPrefix(field, []byte(q.Pattern))
	case q.Kind == KindWildcard && isPrefix:
		// "word*" walks the dictionary's prefix range rather than
		// compiling a regexp automaton, and keeps the terms the regexp
		// would match: "." is any UTF-8 character but a newline.
		dict, err = r.FieldDictPrefix(field, []byte(prefix))
		keep = func(t string) bool { return anyChars(t[len(prefix):]) }
	case q.Kind == KindWildcard || q.Kind == KindRegexp:
		pattern := q.Pattern
		if q.Kind == KindWildcard {
			pattern = wildcardRegexp(pattern)
		}
		rr, ok := r.(index.IndexReaderRegexp)
		if !ok {
			return nil, fmt.Errorf("%s query: this index cannot match regular expressions", q.Kind)
		}
		dict, err = rr.FieldDictRegexp(field, pattern)
	default:
		return nil, fmt.Errorf("constant-score query of unknown kind %q", q.Kind)
	}
	if err != nil {
		return nil, &PatternError{Kind: q.Kind, Pattern: q.Pattern, Err: err}
	}
	defer dict.Close()
	max := q.Max
	if max <= 0 {
		max = DefaultMaxExpansions
	}
	var terms []string
	for {
		e, err := dict.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			return terms, nil
		}
		if !keep(e.Term) {
			continue
		}
		terms = append(terms, e.Term)
		if len(terms) > max {
			return nil, &LimitError{Limit: "max_expansions", Max: max,
				Detail: fmt.Sprintf("%s %q matches more than %d terms of field %q in one shard", q.Kind, q.Pattern, max, field)}
		}
	}
}

// PatternError is a prefix, wildcard or regexp the index cannot use.
type PatternError struct {
	Kind, Pattern string
	Err           error
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("%s %q: %v", e.Kind, e.Pattern, e.Err)
}

func (e *PatternError) Unwrap() error { return e.Err }

// Searcher implements query.Query.
func (q *Exists) Searcher(ctx context.Context, r index.IndexReader, m mapping.IndexMapping, o search.SearcherOptions) (search.Searcher, error) {
	if ctx != nil && inPresearch(ctx) {
		return newBitmapSearcher(r, roaring.New(), q.BoostVal.Value(), o), nil
	}
	field := q.Field
	if field == "" {
		field = m.DefaultSearchField()
	}
	dict, err := r.FieldDict(field)
	if err != nil {
		return nil, err
	}
	defer dict.Close()
	var terms []string
	for {
		e, err := dict.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		terms = append(terms, e.Term)
	}
	bm, err := unionPostings(r, field, terms)
	if err != nil {
		return nil, err
	}
	return newBitmapSearcher(r, bm, q.BoostVal.Value(), o), nil
}

// wildcardPrefix returns the literal before a wildcard's only
// metacharacter, a final "*" ("word*"), and whether it is such a pattern.
// The literal must be valid UTF-8, as the regexp it would be is.
func wildcardPrefix(w string) (string, bool) {
	p, ok := strings.CutSuffix(w, "*")
	if !ok || p == "" || strings.ContainsAny(p, "*?") || !utf8.ValidString(p) {
		return "", false
	}
	return p, true
}

// anyChars reports whether s matches the regexp ".*" (Perl syntax, as
// Bleve's term dictionaries read it): valid UTF-8 without a newline.
func anyChars(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\n")
}

// wildcardRegexp turns a wildcard (* and ?) into the regular expression
// Bleve's own wildcard query uses.
func wildcardRegexp(w string) string {
	out := make([]byte, 0, len(w)+8)
	for i := 0; i < len(w); i++ {
		switch c := w[i]; c {
		case '*':
			out = append(out, '.', '*')
		case '?':
			out = append(out, '.')
		case '+', '(', ')', '^', '$', '.', '{', '}', '[', ']', '|', '\\':
			out = append(out, '\\', c)
		default:
			out = append(out, c)
		}
	}
	return string(out)
}
