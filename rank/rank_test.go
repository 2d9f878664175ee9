package rank

import (
	"reflect"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
)

func hits(specs ...any) search.DocumentMatchCollection {
	var out search.DocumentMatchCollection
	for i := 0; i < len(specs); i += 2 {
		out = append(out, &search.DocumentMatch{ID: specs[i].(string), Score: specs[i+1].(float64), Sort: []string{"_score"}})
	}
	return out
}

func ids(h search.DocumentMatchCollection) []string {
	out := []string{}
	for _, d := range h {
		out = append(out, d.ID)
	}
	return out
}

func TestWindow(t *testing.T) {
	byScore := bleve.NewSearchRequest(nil)
	before := bleve.NewSearchRequest(nil)
	before.SearchBefore = []string{"x"}
	tests := []struct {
		name       string
		req        *bleve.SearchRequest
		in         search.DocumentMatchCollection
		from, size int
		want       []string
	}{
		{"score descending", byScore, hits("a", 1.0, "b", 3.0, "c", 2.0), 0, 10, []string{"b", "c", "a"}},
		{"ties by id", byScore, hits("z", 1.0, "m", 1.0, "a", 1.0), 0, 10, []string{"a", "m", "z"}},
		{"window", byScore, hits("a", 5.0, "b", 4.0, "c", 3.0, "d", 2.0), 1, 2, []string{"b", "c"}},
		{"from past the end", byScore, hits("a", 5.0), 3, 2, []string{}},
		// search_before keeps the hits nearest the cursor, in forward order.
		{"search before", before, hits("a", 5.0, "b", 4.0, "c", 3.0, "d", 2.0), 0, 2, []string{"c", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(Window(tt.req, tt.in, tt.from, tt.size)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	req := bleve.NewSearchRequestOptions(nil, 3, 0, false)
	facet := func(terms map[string]int) search.FacetResults {
		tf := &search.TermFacets{}
		total := 0
		for term, n := range terms {
			tf.Add(&search.TermFacet{Term: term, Count: n})
			total += n
		}
		return search.FacetResults{"kind": {Field: "kind", Total: total, Terms: tf}}
	}
	a := &bleve.SearchResult{Total: 10, MaxScore: 5, Hits: hits("a1", 5.0, "a2", 1.0), Facets: facet(map[string]int{"func": 4, "type": 6})}
	b := &bleve.SearchResult{Total: 7, MaxScore: 4, Hits: hits("b1", 4.0, "b2", 3.0), Facets: facet(map[string]int{"func": 1})}
	got := Merge(req, []*bleve.SearchResult{a, b})
	if want := []string{"a1", "b1", "b2"}; !reflect.DeepEqual(ids(got.Hits), want) {
		t.Errorf("hits %v, want %v", ids(got.Hits), want)
	}
	if got.Total != 17 || got.MaxScore != 5 {
		t.Errorf("total %d max %v, want 17 and 5", got.Total, got.MaxScore)
	}
	counts := map[string]int{}
	for _, tf := range got.Facets["kind"].Terms.Terms() {
		counts[tf.Term] = tf.Count
	}
	if !reflect.DeepEqual(counts, map[string]int{"func": 5, "type": 6}) || got.Facets["kind"].Total != 11 {
		t.Errorf("facets %v total %d, want func 5, type 6, total 11", counts, got.Facets["kind"].Total)
	}
	if got := Merge(req, nil); got.Total != 0 || len(got.Hits) != 0 {
		t.Errorf("merge of nothing: %+v", got)
	}
}
