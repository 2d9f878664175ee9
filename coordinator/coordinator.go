// Package coordinator runs a query's life: it validates the request, gathers
// global BM25 statistics (presearch, cached), scatters the search to every
// shard of the index over NATS with one deadline, fails over between and
// optionally hedges across shard copies, merges the shard answers in Bleve's
// own sort order (window, totals, max score, facets) and says exactly which
// shards are missing from the answer.
package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/nats-io/nats.go"
	"golang.org/x/sync/singleflight"

	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/rank"
)

// Options configure a coordinator.
type Options struct {
	// DefaultTimeout bounds a search that names no timeout (default 10s).
	DefaultTimeout time.Duration
	// MaxTimeout is the longest timeout a request may ask for (default 60s).
	MaxTimeout time.Duration
	// MaxWindow is the largest from+size (default 10,000).
	MaxWindow int
	// StatsCacheTTL is how long global statistics are reused (default 60s;
	// negative disables the cache).
	StatsCacheTTL time.Duration
	// StatsCacheSize bounds the number of cached queries (default 10,000).
	StatsCacheSize int
	// HedgeAfter, when positive, sends a second request to another copy of
	// a shard whose first copy has not answered after this long.
	HedgeAfter time.Duration
}

func (o *Options) setDefaults() {
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = 10 * time.Second
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = 60 * time.Second
	}
	if o.MaxWindow <= 0 {
		o.MaxWindow = 10000
	}
	if o.StatsCacheTTL == 0 {
		o.StatsCacheTTL = 60 * time.Second
	}
	if o.StatsCacheSize <= 0 {
		o.StatsCacheSize = 10000
	}
}

// Coordinator answers searches over the shards of Shoal indexes.
type Coordinator struct {
	nc    *nats.Conn
	cat   *catalog.Catalog
	opts  Options
	cache *statsCache
	sf    singleflight.Group
	terms *termSets

	// Counters for the hedging benchmark.
	requests atomic.Uint64
	hedges   atomic.Uint64
}

// New returns a coordinator that talks to shards over nc.
func New(nc *nats.Conn, cat *catalog.Catalog, opts Options) *Coordinator {
	opts.setDefaults()
	return &Coordinator{nc: nc, cat: cat, opts: opts, cache: newStatsCache(opts.StatsCacheTTL, opts.StatsCacheSize), terms: newTermSets()}
}

// Counters reports how many shard requests were sent, and how many of them
// were hedges.
func (c *Coordinator) Counters() (requests, hedges uint64) {
	return c.requests.Load(), c.hedges.Load()
}

// Request is a search over one index.
type Request struct {
	Search *bleve.SearchRequest
	// Timeout bounds the whole search (0: the default).
	Timeout time.Duration
	// AllowPartial answers with the shards that answered when some did not.
	AllowPartial bool
}

// Search runs req over every shard of index and merges the answers.
func (c *Coordinator) Search(ctx context.Context, index string, req Request) (*Response, error) {
	start := time.Now()
	def, err := c.cat.Index(index)
	if err != nil {
		return nil, err
	}
	sr := req.Search
	if err := c.validate(sr); err != nil {
		return nil, err
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = c.opts.DefaultTimeout
	}
	if timeout > c.opts.MaxTimeout {
		timeout = c.opts.MaxTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var stats json.RawMessage
	var cacheKey string
	if sr.Score != "none" {
		stats, cacheKey, err = c.globalStats(ctx, def, sr.Query)
		if err != nil {
			return nil, err
		}
	}

	raw, err := json.Marshal(widen(sr))
	if err != nil {
		return nil, &RequestError{Type: "invalid_request", Err: fmt.Errorf("encode request: %w", err)}
	}
	outcomes := c.scatterSearch(ctx, def, raw, stats)
	if cacheKey != "" {
		for s, o := range outcomes {
			if o.answered {
				c.cache.observe(cacheKey, s, o.seq)
			}
		}
	}

	out := merge(sr, outcomes)
	out.TookMS = time.Since(start).Milliseconds()
	if out.Shards.Failed > 0 {
		for _, o := range outcomes {
			var se *protocol.ShardError
			if errors.As(o.err, &se) && se.Code == protocol.CodeBadRequest {
				return nil, &RequestError{Type: "search_error", Err: errors.New(se.Description)}
			}
		}
		if !req.AllowPartial || out.Shards.Successful == 0 {
			return out, &UnavailableError{Shards: out.Shards, TimedOut: out.TimedOut}
		}
	}
	return out, nil
}

func deadlineOf(ctx context.Context) time.Time {
	dl, _ := ctx.Deadline()
	return dl
}

func (c *Coordinator) validate(sr *bleve.SearchRequest) error {
	if sr.Query == nil {
		return &RequestError{Type: "invalid_request", Err: errors.New("a query is required")}
	}
	if v, ok := sr.Query.(query.ValidatableQuery); ok {
		if err := v.Validate(); err != nil {
			return &RequestError{Type: "query_parse_error", Err: err}
		}
	}
	if sr.Size < 0 || sr.From < 0 {
		return &RequestError{Type: "invalid_request", Err: errors.New("size and from must not be negative")}
	}
	if sr.From+sr.Size > c.opts.MaxWindow {
		return &RequestError{Type: "invalid_request", Err: fmt.Errorf("from + size must not exceed %d (use search_after to page deeper)", c.opts.MaxWindow)}
	}
	if sr.SearchAfter != nil && sr.SearchBefore != nil {
		return &RequestError{Type: "invalid_request", Err: errors.New("search_after and search_before cannot be used together")}
	}
	if (sr.SearchAfter != nil && len(sr.SearchAfter) != len(sr.Sort)) || (sr.SearchBefore != nil && len(sr.SearchBefore) != len(sr.Sort)) {
		return &RequestError{Type: "invalid_request", Err: fmt.Errorf("search_after/search_before needs one value per sort field (%d)", len(sr.Sort))}
	}
	for name, f := range sr.Facets {
		if f == nil || f.Field == "" {
			return &RequestError{Type: "invalid_request", Err: fmt.Errorf("facet %q needs a field", name)}
		}
		if f.Size < 0 {
			return &RequestError{Type: "invalid_request", Err: fmt.Errorf("facet %q: size must not be negative", name)}
		}
	}
	return nil
}

// widen turns the client's request into what each shard must answer: the
// first from+size hits (each shard may hold all of the window), and more
// facet terms than asked so the merged counts are right for the top terms.
func widen(sr *bleve.SearchRequest) *bleve.SearchRequest {
	w := *sr
	w.From = 0
	w.Size = sr.From + sr.Size
	if sr.Facets != nil {
		w.Facets = make(bleve.FacetsRequest, len(sr.Facets))
		for name, f := range sr.Facets {
			cp := *f
			if cp.Size > 0 {
				cp.Size = cp.Size*3/2 + 10
			}
			w.Facets[name] = &cp
		}
	}
	return &w
}

// merge combines shard answers the way Bleve's index alias does: hits
// sorted by the request's sort order, then the from/size window; totals
// summed; facets merged and trimmed.
func merge(sr *bleve.SearchRequest, outcomes []shardOutcome) *Response {
	out := &Response{Hits: []Hit{}, Shards: ShardsAccount{Total: len(outcomes), Failures: []ShardFailure{}}}
	var hits search.DocumentMatchCollection
	var facets search.FacetResults
	for s, o := range outcomes {
		if o.err != nil || !o.answered {
			reason := ReasonNoResponders
			switch {
			case o.err == nil:
				reason = "no result"
			case errors.Is(o.err, context.DeadlineExceeded):
				reason = ReasonTimeout
				out.TimedOut = true
			case errors.Is(o.err, errNotPlaced):
				reason = ReasonNotPlaced
			case errors.Is(o.err, nats.ErrNoResponders):
			default:
				var se *protocol.ShardError
				if errors.As(o.err, &se) && se.Code == protocol.CodeTimeout {
					out.TimedOut = true
					reason = ReasonTimeout
				} else {
					reason = o.err.Error()
				}
			}
			out.Shards.Failed++
			out.Shards.Failures = append(out.Shards.Failures, ShardFailure{Shard: s, Node: o.node, Reason: reason})
			continue
		}
		out.Shards.Successful++
		if o.res == nil {
			continue // answered in another shard's merged result
		}
		hits = append(hits, o.res.Hits...)
		out.TotalHits += o.res.Total
		if o.res.MaxScore > out.MaxScore {
			out.MaxScore = o.res.MaxScore
		}
		if facets == nil {
			facets = o.res.Facets
		} else {
			facets.Merge(o.res.Facets)
		}
	}
	out.Partial = out.Shards.Failed > 0

	hits = rank.Window(sr, hits, sr.From, sr.Size)
	for _, h := range hits {
		out.Hits = append(out.Hits, Hit{ID: h.ID, Score: h.Score, Sort: h.Sort, Fields: h.Fields, Fragments: h.Fragments})
	}
	for name, f := range sr.Facets {
		facets.Fixup(name, f.Size)
	}
	if len(facets) > 0 {
		out.Facets = facets
	}
	return out
}
