package coordinator

import (
	"errors"
	"strings"
	"testing"

	bquery "github.com/blevesearch/bleve/v2/search/query"

	"github.com/shoal-search/shoal/rewrite"
)

func TestCheckQueryStrings(t *testing.T) {
	long := bquery.NewQueryStringQuery(strings.Repeat("a", 101))
	short := bquery.NewQueryStringQuery(strings.Repeat("a", 100))
	for _, tt := range []struct {
		name string
		q    bquery.Query
		bad  bool
	}{
		{"short", short, false},
		{"long", long, true},
		{"in a conjunction", bquery.NewConjunctionQuery([]bquery.Query{short, long}), true},
		{"in a disjunction", bquery.NewDisjunctionQuery([]bquery.Query{bquery.NewMatchQuery("x"), long}), true},
		{"deep in a boolean", bquery.NewBooleanQuery(nil, nil, []bquery.Query{bquery.NewConjunctionQuery([]bquery.Query{long})}), true},
		{"every clause short", bquery.NewBooleanQuery([]bquery.Query{short}, []bquery.Query{short}, []bquery.Query{short}), false},
		{"not a query string", bquery.NewMatchQuery(strings.Repeat("a", 1000)), false},
	} {
		err := checkQueryStrings(tt.q, 100)
		var le *rewrite.LimitError
		if got := errors.As(err, &le); got != tt.bad || (got && (le.Limit != LimitQueryString || le.Max != 100)) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestAnswerBudget(t *testing.T) {
	b := &answerBudget{max: 1000}
	for i, n := range []int{400, 600} {
		if err := b.charge(n); err != nil {
			t.Fatalf("charge %d (%d): %v", i, n, err)
		}
	}
	err := b.charge(1)
	var le *rewrite.LimitError
	if !errors.As(err, &le) || le.Limit != LimitAnswerBytes || !errors.Is(err, rewrite.ErrLimit) {
		t.Fatalf("one byte past the budget: %v", err)
	}
}
