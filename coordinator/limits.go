package coordinator

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bquery "github.com/blevesearch/bleve/v2/search/query"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
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
	// docSizeTTL is how long an index's average document size is reused.
	docSizeTTL = 30 * time.Second
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
// highlight.
func (c *Coordinator) checkMemory(ctx context.Context, q *query) error {
	window := int64(q.search.From + q.search.Size)
	held := window * int64(q.def.Shards)
	if docs, ok := c.indexDocs(q.def); ok {
		held = min(held, docs) + min(window, docs)
	} else {
		held += window
	}
	per := int64(hitBytes)
	if len(q.search.Fields) > 0 || q.search.Highlight != nil {
		doc := c.sizes.avg(ctx, c.js, q.def)
		if len(q.search.Fields) > 0 {
			per += fieldsFactor * doc
		}
		if q.search.Highlight != nil {
			per += highlightFactor * doc
		}
	}
	if est := held * per; est > c.opts.MaxSearchMemory {
		return &rewrite.LimitError{Limit: LimitSearchMemory, Max: int(c.opts.MaxSearchMemory), Detail: fmt.Sprintf(
			"this search would hold about %d MiB (%d hits of about %d bytes; ask for fewer hits, fewer fields or no highlight)",
			est>>20, held, per)}
	}
	return nil
}

// indexDocs is the number of documents in def, from the heartbeats: per
// shard, its fullest copy. ok is false while no copy has reported.
func (c *Coordinator) indexDocs(def *meta.IndexDef) (int64, bool) {
	m := c.cat.ShardMap(def.Name)
	if m == nil {
		return 0, false
	}
	var total int64
	seen := false
	for s, nodes := range m.Copies {
		var most uint64
		for _, n := range nodes {
			if cp, ok := c.cat.Copy(n, def.Name, s); ok {
				most, seen = max(most, cp.Docs), true
			}
		}
		total += int64(most)
	}
	return total, seen
}

// docSizes caches the average stored size of each index's documents, as
// its stream reports it (bytes over messages).
type docSizes struct {
	mu    sync.Mutex
	byUID map[string]docSize
}

type docSize struct {
	bytes int64
	at    time.Time
}

// avg returns def's average document size, asking its stream at most once
// per docSizeTTL; defaultDocBytes while the stream cannot say.
func (d *docSizes) avg(ctx context.Context, js jetstream.JetStream, def *meta.IndexDef) int64 {
	d.mu.Lock()
	cached, ok := d.byUID[def.UID]
	d.mu.Unlock()
	if ok && time.Since(cached.at) < docSizeTTL {
		return cached.bytes
	}
	size := int64(defaultDocBytes)
	if st, err := js.Stream(ctx, protocol.StreamName(def.Name)); err == nil {
		if s := st.CachedInfo().State; s.Msgs > 0 {
			size = max(int64(s.Bytes/s.Msgs), 1)
		}
	} else if ok {
		size = cached.bytes
	}
	d.mu.Lock()
	if d.byUID == nil {
		d.byUID = map[string]docSize{}
	}
	d.byUID[def.UID] = docSize{bytes: size, at: time.Now()}
	d.mu.Unlock()
	return size
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
