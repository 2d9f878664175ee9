package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	bquery "github.com/blevesearch/bleve/v2/search/query"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/rewrite"
	"github.com/shoal-search/shoal/token"
)

// Request is a search over one index.
type Request struct {
	Search *bleve.SearchRequest
	// Timeout bounds the whole search (0: the default).
	Timeout time.Duration
	// AllowPartial answers with the shards that answered when some did
	// not; false is MinCoverage 100.
	AllowPartial bool
	// Profile adds a Profile to the answer: where the time went.
	Profile bool
	// Start is when the request arrived: its timeout runs from then, so
	// that reading and parsing it count (zero: when Search is called).
	Start time.Time
	// MinCoverage, from 0 to 100, is the least share of the index's
	// documents, in percent, an answer must cover; below it the search
	// fails with an *UnavailableError (HTTP 503).
	MinCoverage float64
	// After asks for read-your-writes: every shard is answered only by a
	// copy that has applied the writes the token names (token.Token from
	// a write's answer). The zero token asks nothing.
	After token.Token
	// MaxLag, when set, skips copies more than that many writes behind
	// their stream (as their last heartbeat says).
	MaxLag *uint64
}

// MinTimeout is the shortest timeout a search may ask for: a scatter over
// NATS, a search on each node and the merge cannot be promised in less.
const MinTimeout = 10 * time.Millisecond

// query is a search made ready for the shards: its index found, the request
// checked against the limits, its timeout set and its shard form encoded.
type query struct {
	def    *meta.IndexDef
	search *bleve.SearchRequest // as the client asked
	// rewritten is the client's query as rewrite.Query returned it: as
	// every shard runs it.
	rewritten bquery.Query
	widened   *bleve.SearchRequest // as each shard must answer
	raw       json.RawMessage      // widened, encoded
	timeout   time.Duration
	// allowPartial is the request's allow_partial; minCoverage is the
	// least coverage, in percent, of an answer (100 when partial answers
	// are not allowed).
	allowPartial bool
	minCoverage  float64
	fresh        freshness
	// scores is false for a query that scores no term (match-all, exists,
	// constant-score multi-term queries): it needs no statistics.
	scores     bool
	profile    bool   // the answer carries a Profile
	timings    bool   // the nodes report their timings (profile or slow-query log)
	statsCache string // how presearch found the statistics: cacheHit, cacheMiss or cacheNone
	// counted is, per shard, whether the statistics count its figures,
	// and stale lists the counted shards whose figures could not be
	// brought up to date; counted is nil for a search that scores nothing.
	counted []bool
	stale   []int
}

// prepare checks req over index and makes it a query.
func (c *Coordinator) prepare(index string, req Request) (*query, error) {
	def, err := c.cat.Index(index)
	if err != nil {
		return nil, err
	}
	sr := req.Search
	if err := c.validate(sr); err != nil {
		return nil, err
	}
	rq, err := rewrite.Query(sr.Query, c.opts.QueryLimits)
	if err != nil {
		return nil, queryError(err)
	}
	if err := c.checkSortFields(def.Name, sr); err != nil {
		return nil, err
	}
	timeout, err := c.timeout(req)
	if err != nil {
		return nil, err
	}
	fresh, err := freshnessOf(def, req.After, req.MaxLag)
	if err != nil {
		return nil, err
	}
	minCov, err := minCoverage(req)
	if err != nil {
		return nil, err
	}
	w := widen(sr)
	raw, err := json.Marshal(w)
	if err != nil {
		return nil, &RequestError{Type: "invalid_request", Err: fmt.Errorf("encode request: %w", err)}
	}
	// The request travels to every node in one message; a quarter of the
	// broker's payload limit leaves room for the statistics beside it.
	if max := c.nc.MaxPayload() / 4; int64(len(raw)) > max {
		return nil, &RequestError{Type: "query_too_large", Err: fmt.Errorf("the search request is %d bytes encoded; the most is %d (a quarter of the broker's payload limit)", len(raw), max)}
	}
	return &query{def: def, search: sr, rewritten: rq, widened: w, raw: raw, timeout: timeout, allowPartial: req.AllowPartial,
		minCoverage: minCov, fresh: fresh,
		scores:  rewrite.Scores(rq) && sr.Score != "none",
		profile: req.Profile, timings: req.Profile || c.opts.SlowQuery > 0}, nil
}

// queryError is the request error of a query the rewrite refused: past a
// limit, or not parsable.
func queryError(err error) error {
	if errors.Is(err, rewrite.ErrLimit) {
		return &RequestError{Type: "query_too_complex", Err: err}
	}
	return &RequestError{Type: "query_parse_error", Err: err}
}

// timeout is how long req may take: its own timeout, the default if it
// names none, at most MaxTimeout. A timeout under MinTimeout is refused.
func (c *Coordinator) timeout(req Request) (time.Duration, error) {
	timeout := req.Timeout
	if timeout < 0 || (timeout > 0 && timeout < MinTimeout) {
		return 0, &RequestError{Type: "invalid_request", Err: fmt.Errorf("timeout %v is shorter than the cluster can meet: the least is %v", timeout, MinTimeout)}
	}
	if timeout == 0 {
		timeout = c.opts.DefaultTimeout
	}
	return min(timeout, c.opts.MaxTimeout), nil
}

// prepareWithin is prepare inside ctx: it gives up when ctx ends (the
// deadline passes, the client goes away). Parsing cannot be interrupted,
// but the query-string length limit bounds how long it runs on.
func (c *Coordinator) prepareWithin(ctx context.Context, index string, req Request) (*query, error) {
	type prepared struct {
		q   *query
		err error
	}
	done := make(chan prepared, 1)
	go func() {
		q, err := c.prepare(index, req)
		done <- prepared{q, err}
	}()
	select {
	case p := <-done:
		return p.q, p.err
	case <-ctx.Done():
		select {
		case p := <-done: // ready as well: its verdict is the answer
			return p.q, p.err
		default:
			return nil, ctx.Err()
		}
	}
}

// minCoverage is the least coverage req accepts: 100 when it does not
// allow a partial answer, else its MinCoverage, which must be 0 to 100.
func minCoverage(req Request) (float64, error) {
	if math.IsNaN(req.MinCoverage) || req.MinCoverage < 0 || req.MinCoverage > 100 {
		return 0, &RequestError{Type: "invalid_request", Err: fmt.Errorf("min_coverage must be between 0 and 100, not %v", req.MinCoverage)}
	}
	if !req.AllowPartial {
		return 100, nil
	}
	return req.MinCoverage, nil
}

// freshnessOf checks a read-your-writes token against the index it is
// used on: a token of another index, or of an earlier incarnation of this
// one (deleted and created again since), is refused, since the writes it
// names are not in this index (index_replaced, HTTP 409); so is one that
// names a shard the index does not have.
func freshnessOf(def *meta.IndexDef, after token.Token, maxLag *uint64) (freshness, error) {
	f := freshness{maxLag: maxLag}
	if after.IsZero() {
		return f, nil
	}
	if after.UID != def.UID {
		return f, &RequestError{Type: "index_replaced", Err: fmt.Errorf(
			"the token (after) was issued by another index, or by an earlier incarnation of %q since deleted and created again: the writes it names are not here", def.Name)}
	}
	for s := range after.Seqs {
		if s >= def.Shards {
			return f, &RequestError{Type: "invalid_request", Err: fmt.Errorf("the token (after) names shard %d, and %q has %d shards", s, def.Name, def.Shards)}
		}
	}
	f.after = after.Seqs
	return f, nil
}

func (c *Coordinator) validate(sr *bleve.SearchRequest) error {
	if sr.Query == nil {
		return &RequestError{Type: "invalid_request", Err: errors.New("a query is required")}
	}
	// Before anything parses a query string: the parser is quadratic.
	if err := checkQueryStrings(sr.Query, c.opts.MaxQueryString); err != nil {
		return err
	}
	if v, ok := sr.Query.(bquery.ValidatableQuery); ok {
		if err := v.Validate(); err != nil {
			return &RequestError{Type: "query_parse_error", Err: err}
		}
	}
	if sr.Size < 0 || sr.From < 0 {
		return &RequestError{Type: "invalid_request", Err: errors.New("size and from must not be negative")}
	}
	// Each is checked alone first: their sum could overflow.
	if sr.Size > c.opts.MaxWindow || sr.From > c.opts.MaxWindow || sr.From+sr.Size > c.opts.MaxWindow {
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

// checkSortFields refuses a sort on a field no document of the index has,
// as Elasticsearch does for an unmapped field: such a sort would silently
// order nothing. Fields are known from the copies' heartbeats; when they
// are not all known, nothing is refused.
func (c *Coordinator) checkSortFields(index string, sr *bleve.SearchRequest) error {
	var names []string
	for _, so := range sr.Sort {
		switch s := so.(type) {
		case *search.SortField:
			names = append(names, s.Field)
		case *search.SortGeoDistance:
			names = append(names, s.Field)
		}
	}
	if len(names) == 0 {
		return nil
	}
	fields, complete := c.cat.Fields(index)
	if !complete {
		return nil
	}
	for _, f := range names {
		if !fields[f] {
			return &RequestError{Type: "invalid_request", Err: fmt.Errorf("cannot sort on %q: no document of index %s has that field", f, index)}
		}
	}
	return nil
}
