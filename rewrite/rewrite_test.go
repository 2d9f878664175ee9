package rewrite_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/shoal-search/shoal/rewrite"
)

// openIndex builds a real scorch index on disk with several segments and
// some deleted documents, so that bitmaps cross segment offsets.
func openIndex(t *testing.T) bleve.Index {
	t.Helper()
	idx, err := bleve.New(t.TempDir(), bleve.NewIndexMapping())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	words := []string{"apple", "apricot", "banana", "band", "bandana", "cherry", "apex", "zebra"}
	for batch := 0; batch < 4; batch++ {
		b := idx.NewBatch()
		for i := 0; i < 50; i++ {
			n := batch*50 + i
			doc := map[string]any{"body": words[n%len(words)] + " " + words[(n/3)%len(words)]}
			if n%5 == 0 {
				doc["title"] = fmt.Sprintf("title %d", n)
			}
			if err := b.Index(fmt.Sprintf("d%03d", n), doc); err != nil {
				t.Fatal(err)
			}
		}
		if err := idx.Batch(b); err != nil {
			t.Fatal(err)
		}
	}
	b := idx.NewBatch()
	for n := 0; n < 200; n += 7 {
		b.Delete(fmt.Sprintf("d%03d", n))
	}
	if err := idx.Batch(b); err != nil {
		t.Fatal(err)
	}
	return idx
}

func ids(t *testing.T, idx bleve.Index, q query.Query) ([]string, []float64) {
	t.Helper()
	req := bleve.NewSearchRequestOptions(q, 1000, 0, false)
	res, err := idx.Search(req)
	if err != nil {
		t.Fatalf("search %T: %v", q, err)
	}
	var out []string
	var scores []float64
	for _, h := range res.Hits {
		out = append(out, h.ID)
		scores = append(scores, h.Score)
	}
	slices.Sort(out)
	if int(res.Total) != len(out) {
		t.Fatalf("total %d, hits %d", res.Total, len(out))
	}
	return out, scores
}

// TestRewriteMatchesBleve checks that each rewritten query matches exactly
// the documents Bleve's own query matches, at a constant score.
func TestRewriteMatchesBleve(t *testing.T) {
	idx := openIndex(t)
	tests := []struct {
		name      string
		q         string
		wantType  string
		constant  bool
		wantScore float64
	}{
		{"match all", "*", "*query.MatchAllQuery", true, 1},
		{"exists", "title:*", "*query.BooleanQuery", true, 1},
		{"prefix as wildcard", "ban*", "*query.BooleanQuery", true, 1},
		{"wildcard", "b?nd*", "*query.BooleanQuery", true, 1},
		{"regexp", "/ap.*t/", "*query.BooleanQuery", true, 1},
		{"boosted wildcard (normalised alone)", "ap*^3", "*query.BooleanQuery", true, 1},
		{"fuzzy keeps scoring", "bandanna~1", "*query.BooleanQuery", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := query.NewQueryStringQuery(tt.q)
			rq, err := rewrite.Query(orig, rewrite.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", rq); got != tt.wantType {
				t.Errorf("rewritten to %s, want %s", got, tt.wantType)
			}
			if rewrite.Scores(rq) == tt.constant {
				t.Errorf("Scores = %v, want %v", rewrite.Scores(rq), !tt.constant)
			}
			want, _ := ids(t, idx, orig)
			got, scores := ids(t, idx, rq)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Fatalf("rewritten query matches %d docs %v, Bleve's %d %v", len(got), got, len(want), want)
			}
			if tt.constant {
				for _, s := range scores {
					if s != tt.wantScore {
						t.Fatalf("score %v, want constant %v", s, tt.wantScore)
					}
				}
			}
		})
	}
}

// TestMatchAllSpellings: every spelling of "everything" runs as a
// match-all (Bleve's own parser reads `*:*` as a field named "*").
func TestMatchAllSpellings(t *testing.T) {
	idx := openIndex(t)
	docs, err := idx.DocCount()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []query.Query{
		query.NewQueryStringQuery("*"),
		query.NewQueryStringQuery("*:*"),
		query.NewQueryStringQuery("_all:*"),
		query.NewQueryStringQuery("**"),
		query.NewMatchAllQuery(),
	} {
		rq, err := rewrite.Query(q, rewrite.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rq.(*query.MatchAllQuery); !ok {
			t.Errorf("%+v rewritten to %T, want a match-all", q, rq)
		}
		if got, _ := ids(t, idx, rq); len(got) != int(docs) {
			t.Errorf("%+v matches %d docs, want all %d", q, len(got), docs)
		}
	}
}

func TestLimits(t *testing.T) {
	idx := openIndex(t)
	deep := query.Query(query.NewTermQuery("x"))
	for i := 0; i < 40; i++ {
		deep = query.NewConjunctionQuery([]query.Query{deep})
	}
	var wide []query.Query
	for i := 0; i < 20; i++ {
		wide = append(wide, query.NewTermQuery(fmt.Sprint(i)))
	}
	tests := []struct {
		name   string
		q      query.Query
		limits rewrite.Limits
		limit  string // the limit named by the error, at rewrite or search
	}{
		{"depth", deep, rewrite.Limits{}, "max_depth"},
		{"clauses", query.NewDisjunctionQuery(wide), rewrite.Limits{MaxClauses: 10}, "max_clauses"},
		{"expansions", query.NewQueryStringQuery("a*"), rewrite.Limits{MaxExpansions: 2}, "max_expansions"},
		{"within limits", query.NewDisjunctionQuery(wide), rewrite.Limits{MaxClauses: 20}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rq, err := rewrite.Query(tt.q, tt.limits)
			if err == nil {
				_, err = idx.Search(bleve.NewSearchRequest(rq))
			}
			var le *rewrite.LimitError
			if tt.limit == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if !errors.As(err, &le) || le.Limit != tt.limit || !errors.Is(err, rewrite.ErrLimit) {
				t.Fatalf("error %v, want the limit %s", err, tt.limit)
			}
		})
	}
}

func TestBadPattern(t *testing.T) {
	idx := openIndex(t)
	rq, err := rewrite.Query(query.NewRegexpQuery("a(b"), rewrite.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = idx.Search(bleve.NewSearchRequest(rq))
	var pe *rewrite.PatternError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a PatternError", err)
	}
}

func TestSyntax(t *testing.T) {
	tests := []struct {
		q  string
		ok bool
	}{
		{"title:(", false},
		{"title:[", false},
		{"title:{", false},
		{"(a b", false},
		{"a b)", false},
		{`"a b`, false},
		{"title:(river sea)", true},
		{`"a (b"`, true},
		{`/ri(v|x)er/`, true},
		{`a\(b`, true},
		{"c++ -x", true},
		{"title:river^2 +body:sea", true},
		{"a:b/c", true},
	}
	for _, tt := range tests {
		_, err := rewrite.Query(query.NewQueryStringQuery(tt.q), rewrite.Limits{})
		var se *rewrite.SyntaxError
		if tt.ok && err != nil {
			t.Errorf("%q: %v", tt.q, err)
		}
		if !tt.ok && !errors.As(err, &se) {
			t.Errorf("%q: error %v, want a SyntaxError", tt.q, err)
		}
	}
}

// TestPrefixWildcardMatchesRegexp: a "word*" wildcard, which walks the
// term dictionary's prefix range rather than a regexp automaton, matches
// exactly the terms Bleve's wildcard regexp matches, also for keyword
// terms with a newline or invalid UTF-8 after the prefix.
func TestPrefixWildcardMatchesRegexp(t *testing.T) {
	m := bleve.NewIndexMapping()
	kw := bleve.NewTextFieldMapping()
	kw.Analyzer = "keyword"
	m.DefaultMapping.AddFieldMappingsAt("kw", kw)
	idx, err := bleve.New(t.TempDir(), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	terms := []string{"ab", "abc", "ab\ncd", "abc\n", "ab\xffx", "a", "b", "ab*", "ab?c", "über", "überall", "ü\xc3"}
	for i, term := range terms {
		if err := idx.Index(fmt.Sprintf("d%02d", i), map[string]any{"kw": term}); err != nil {
			t.Fatal(err)
		}
	}
	for _, pattern := range []string{"ab*", "a*", "abc*", "über*", "ü*", "ab?*", "a*c*"} {
		t.Run(pattern, func(t *testing.T) {
			orig := query.NewWildcardQuery(pattern)
			orig.SetField("kw")
			rq, err := rewrite.Query(orig, rewrite.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ids(t, idx, orig)
			got, _ := ids(t, idx, rq)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Fatalf("rewritten query matches %v, Bleve's %v", got, want)
			}
		})
	}
}
