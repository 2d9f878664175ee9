package coordinator

import (
	"context"
	"fmt"
	"sync/atomic"

	bquery "github.com/blevesearch/bleve/v2/search/query"

	"github.com/shoal-search/shoal/rewrite"
)

// This file holds the limits on one search's work that the coordinator
// applies itself (the query's clauses, depth and expansions are
// rewrite's): the length of its query strings, an estimate of the memory
// its answer takes, refused up front, and a cap on the bytes of shard
// replies it may assemble. Each failure is a *rewrite.LimitError naming
// the limit.

// Default limits.
const (
	// DefaultMaxQueryString is the longest query string, in bytes. Bleve's
	// query-string parser takes time quadratic in its input.
	DefaultMaxQueryString = 8 << 10
	// DefaultMaxSearchMemory bounds the estimated memory of one search.
	DefaultMaxSearchMemory = 32 << 20
	// DefaultMaxAnswerBytes bounds the shard replies one search assembles.
	DefaultMaxAnswerBytes = 32 << 20
)

// Names of the coordinator's limits, as a LimitError reports them.
const (
	LimitQueryString  = "max_query_string"
	LimitSearchMemory = "max_search_memory"
	LimitAnswerBytes  = "max_answer_bytes"
)

// The memory estimate's figures: what one hit costs with no stored
// fields or highlight (id, score, sort keys, Bleve's match), and how many
// times its stored size a document's fields, or its highlighted
// fragments, weigh while loaded, encoded, sent, decoded and merged. They
// were measured on the sample corpus (a search for everything with all
// fields and highlight peaked at about 9 times the stored bytes per hit).
const (
	hitBytes        = 512
	fieldsFactor    = 4
	highlightFactor = 4
	// defaultDocBytes is the document size assumed while an index's own
	// is unknown.
	defaultDocBytes = 1 << 10
)

// checkQueryStrings refuses a query holding a query string longer than
// max bytes, before anything parses it.
func checkQueryStrings(q bquery.Query, max int) error {
	var err error
	walkQuery(q, func(q bquery.Query) bool {
		if qs, ok := q.(*bquery.QueryStringQuery); ok && len(qs.Query) > max {
			err = &rewrite.LimitError{Limit: LimitQueryString, Max: max,
				Detail: fmt.Sprintf("a query string of %d bytes is too long", len(qs.Query))}
		}
		return err == nil
	})
	return err
}

// walkQuery calls visit on q and on every query inside it, depth first,
// while visit returns true.
func walkQuery(q bquery.Query, visit func(bquery.Query) bool) bool {
	if q == nil {
		return true
	}
	if !visit(q) {
		return false
	}
	var kids []bquery.Query
	switch q := q.(type) {
	case *bquery.BooleanQuery:
		kids = []bquery.Query{q.Must, q.Should, q.MustNot, q.Filter}
	case *bquery.ConjunctionQuery:
		kids = q.Conjuncts
	case *bquery.DisjunctionQuery:
		kids = q.Disjuncts
	}
	for _, k := range kids {
		if !walkQuery(k, visit) {
			return false
		}
	}
	return true
}

// checkMemory estimates the memory q's answer takes and refuses it when
// over the limit. Each shard finds up to from+size hits (with their stored
// fields and fragments), and the merged answer holds from+size more, never
// more than the index's documents; a hit weighs hitBytes, plus a multiple
// of the index's average stored document for its fields and for its
// highlight. The index's documents and their average size are its
// stream's.
func (c *Coordinator) checkMemory(ctx context.Context, q *query) error {
	window := int64(q.search.From + q.search.Size)
	held := window * int64(q.def.Shards)
	st, known := c.streams.stats(ctx, c.js, q.def)
	if known {
		held = min(held, st.docs) + min(window, st.docs)
	} else {
		held += window
	}
	per := int64(hitBytes)
	if len(q.search.Fields) > 0 {
		per += fieldsFactor * st.avgBytes
	}
	if q.search.Highlight != nil {
		per += highlightFactor * st.avgBytes
	}
	if est := held * per; est > c.opts.MaxSearchMemory {
		return &rewrite.LimitError{Limit: LimitSearchMemory, Max: int(c.opts.MaxSearchMemory), Detail: fmt.Sprintf(
			"this search would hold about %d MiB (%d hits of about %d bytes; ask for fewer hits, fewer fields or no highlight)",
			est>>20, held, per)}
	}
	return nil
}

// answerBudget is what remains of the bytes of shard replies one search
// may assemble; every reply is charged before it is decoded.
type answerBudget struct {
	max  int64
	used atomic.Int64
}

// charge counts n more bytes, and fails once the search is past its
// budget.
func (b *answerBudget) charge(n int) error {
	if used := b.used.Add(int64(n)); used > b.max {
		return &rewrite.LimitError{Limit: LimitAnswerBytes, Max: int(b.max), Detail: fmt.Sprintf(
			"the shards' answers reached %d bytes (ask for fewer hits, fewer fields or no highlight)", used)}
	}
	return nil
}
