package rewrite_test

import (
	"errors"
	"testing"

	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/shoal-search/shoal/rewrite"
)

// FuzzQueryString: any query string either rewrites, or fails with the
// parser's error or a limit; it never panics, and a rewritten query is one
// Bleve can validate.
func FuzzQueryString(f *testing.F) {
	for _, s := range []string{"*", "*:*", "title:*", "a*", "b?n*", "/ap.*t/", "foo~2", "+a -b c*^2", "title:(", `"a b"~2`, "((((a))))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := rewrite.Query(query.NewQueryStringQuery(s), rewrite.Limits{MaxClauses: 64, MaxDepth: 8})
		if err != nil {
			if errors.Is(err, rewrite.ErrLimit) {
				return
			}
			return // the parser refused it
		}
		if q == nil {
			t.Fatalf("%q rewrote to nil without an error", s)
		}
		_ = rewrite.Scores(q)
	})
}
