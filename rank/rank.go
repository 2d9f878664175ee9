// Package rank merges the ranked answers of several Bleve indexes into the
// answer one index holding all their documents would give: hits in the
// request's sort order cut to its window, totals summed, facets merged. The
// coordinator merges shard (and node) answers with it, and a searcher node
// merges the answers of the shards it holds before replying.
package rank

import (
	"slices"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
)

// Window sorts hits in the order sr asks for (score first by default) and
// returns the size hits from from on. With search_before, the window is
// the size hits just before the cursor, still in forward order. Ties are
// broken by document id, so the order does not depend on how documents
// were split.
func Window(sr *bleve.SearchRequest, hits search.DocumentMatchCollection, from, size int) search.DocumentMatchCollection {
	order := sr.Sort
	if len(order) == 0 {
		order = search.SortOrder{&search.SortScore{Desc: true}}
	}
	reverse := sr.SearchBefore != nil
	if reverse {
		order = order.Copy()
		order.Reverse()
	}
	scoring, desc := order.CacheIsScore(), order.CacheDescending()
	slices.SortStableFunc(hits, func(a, b *search.DocumentMatch) int {
		if c := order.Compare(scoring, desc, a, b); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if from < len(hits) {
		hits = hits[from:]
	} else {
		hits = nil
	}
	if len(hits) > size {
		hits = hits[:size]
	}
	if reverse {
		for i, j := 0, len(hits)-1; i < j; i, j = i+1, j-1 {
			hits[i], hits[j] = hits[j], hits[i]
		}
	}
	return hits
}

// Merge combines the answers of several indexes to the same request sr
// (already widened: from 0, size from+size) into one: the first sr.Size
// hits, totals summed, the highest score, and every facet term counted
// over all answers. Facets are not trimmed, so that a later merge still
// counts terms one answer cut.
func Merge(sr *bleve.SearchRequest, results []*bleve.SearchResult) *bleve.SearchResult {
	out := &bleve.SearchResult{Status: &bleve.SearchStatus{}}
	n := 0
	for _, r := range results {
		n += len(r.Hits)
	}
	hits := make(search.DocumentMatchCollection, 0, n)
	for _, r := range results {
		hits = append(hits, r.Hits...)
		out.Total += r.Total
		out.MaxScore = max(out.MaxScore, r.MaxScore)
		if r.Status != nil {
			out.Status.Total += r.Status.Total
			out.Status.Successful += r.Status.Successful
		}
		if out.Facets == nil {
			out.Facets = r.Facets
		} else {
			out.Facets.Merge(r.Facets)
		}
	}
	out.Hits = Window(sr, hits, 0, sr.Size)
	return out
}
