package coordinator

import (
	"github.com/blevesearch/bleve/v2"

	"github.com/shoal-search/shoal/rank"
)

// merge combines the answers of the shards that answered the way one
// index would rank them (rank.Merge: hits in the request's sort order,
// totals summed, the highest score, facets merged), then cuts the client's
// from/size window and trims the facets to the sizes asked. The shard
// account is response.go's.
func merge(q *query, outcomes []shardOutcome) *Response {
	var results []*bleve.SearchResult
	for _, o := range outcomes {
		// A shard answered together with others has no value of its
		// own: the node's merged result sits on the first of them.
		if o.err == nil && o.answered && o.value != nil {
			results = append(results, o.value)
		}
	}
	m := rank.Merge(q.widened, results)
	sr := q.search
	window := rank.Window(sr, m.Hits, sr.From, sr.Size)
	out := &Response{Hits: make([]Hit, 0, len(window)), TotalHits: m.Total, MaxScore: m.MaxScore}
	for _, h := range window {
		out.Hits = append(out.Hits, Hit{ID: h.ID, Score: h.Score, Sort: h.Sort, Fields: h.Fields, Fragments: h.Fragments})
	}
	for name, f := range sr.Facets {
		m.Facets.Fixup(name, f.Size)
	}
	if len(m.Facets) > 0 {
		out.Facets = m.Facets
	}
	return out
}
