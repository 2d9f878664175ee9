package client

import (
	"encoding/json"
	"strconv"
	"strings"
)

// SearchRequest is the body of POST /v1/indexes/{index}/search: Bleve's
// SearchRequest JSON plus Shoal's timeout and allow_partial.
type SearchRequest struct {
	// Query is a Bleve query in its JSON form, e.g. QueryString("title:x").
	Query json.RawMessage `json:"query,omitempty"`
	// Size is the number of hits to return; nil means the server default
	// (10). Use new(0) to ask for facets or totals only.
	Size *int `json:"size,omitempty"`
	// From skips that many hits of the sorted result.
	From int `json:"from,omitempty"`
	// Sort lists sort keys in Bleve's form: field names ("-_score",
	// "title") or sort objects.
	Sort []any `json:"sort,omitempty"`
	// SearchAfter resumes after the hit with these sort values.
	SearchAfter []string `json:"search_after,omitempty"`
	// SearchBefore returns the page before the hit with these sort values.
	SearchBefore []string `json:"search_before,omitempty"`
	// Fields lists stored fields to return with each hit ("*" for all).
	Fields []string `json:"fields,omitempty"`
	// Facets requests facets by name.
	Facets map[string]FacetRequest `json:"facets,omitempty"`
	// Highlight asks for highlighted fragments.
	Highlight *HighlightRequest `json:"highlight,omitempty"`
	// Explain asks for a score explanation with each hit.
	Explain bool `json:"explain,omitempty"`
	// Score set to "none" disables scoring.
	Score string `json:"score,omitempty"`
	// Timeout bounds the whole search, e.g. "500ms".
	Timeout string `json:"timeout,omitempty"`
	// AllowPartial, when set to false, turns a missing shard into a 503
	// instead of a partial answer. nil means the server default (true).
	AllowPartial *bool `json:"allow_partial,omitempty"`
	// MinCoverage, from 0 to 100, is the least share of the documents
	// (percent) the answer must cover; below it the server answers 503.
	MinCoverage *float64 `json:"min_coverage,omitempty"`
	// After is a read-your-writes token from a write's answer: the answer
	// reflects every write it names.
	After string `json:"after,omitempty"`
	// MaxLag, when set, skips copies more than that many writes behind.
	MaxLag *uint64 `json:"max_lag,omitempty"`
}

// FacetRequest asks for one facet: a term facet when only Field and Size
// are set, a range facet with NumericRanges or DateRanges (Bleve's JSON).
type FacetRequest struct {
	// Field is the field to facet on.
	Field string `json:"field"`
	// Size is the number of terms or ranges to return.
	Size int `json:"size"`
	// NumericRanges holds Bleve numeric range definitions, if any.
	NumericRanges json.RawMessage `json:"numeric_ranges,omitempty"`
	// DateRanges holds Bleve date range definitions, if any.
	DateRanges json.RawMessage `json:"date_ranges,omitempty"`
}

// HighlightRequest asks for highlighted fragments.
type HighlightRequest struct {
	// Style names the highlighter, e.g. "html"; empty means the default.
	Style string `json:"style,omitempty"`
	// Fields limits highlighting to these fields; empty means all.
	Fields []string `json:"fields,omitempty"`
}

// QueryString returns the JSON form of a Bleve query-string query, for
// SearchRequest.Query.
func QueryString(q string) json.RawMessage {
	b, _ := json.Marshal(struct {
		Query string `json:"query"`
	}{q}) // a struct of one string always marshals
	return b
}

// SearchResponse is a merged search answer.
type SearchResponse struct {
	// Hits is the requested window of the sorted result.
	Hits []Hit `json:"hits"`
	// TotalHits is the number of matching documents.
	TotalHits uint64 `json:"total_hits"`
	// MaxScore is the highest score of any match.
	MaxScore float64 `json:"max_score"`
	// TookMS is the server-side time in milliseconds.
	TookMS float64 `json:"took_ms"`
	// Facets holds the merged facets by name.
	Facets map[string]FacetResult `json:"facets,omitempty"`
	// Coverage says how much of the index's documents the answer covers.
	Coverage Coverage `json:"coverage"`
	// Shards accounts for which shards answered.
	Shards ShardsInfo `json:"shards"`
	// Partial is true when some shard's results are missing.
	Partial bool `json:"partial"`
	// TimedOut is true when some shard did not answer in time.
	TimedOut bool `json:"timed_out"`
	// Statistics says whose figures the scores were worked out with; nil
	// when the search scores nothing.
	Statistics *Statistics `json:"statistics,omitempty"`
	// Raw is the response body exactly as received.
	Raw json.RawMessage `json:"-"`
}

// Statistics says which shards' figures (document counts and frequencies,
// field lengths) a search's scores were worked out with.
type Statistics struct {
	// Exact is true when every shard was counted at its current state:
	// the scores are those of one index holding every document.
	Exact bool `json:"exact"`
	// Shards is how many shards were counted.
	Shards int `json:"shards"`
	// Missing lists the shards left out of the statistics.
	Missing []int `json:"missing"`
	// Stale lists the shards counted with figures older than their latest
	// writes (their copies did not answer the refresh in time).
	Stale []int `json:"stale"`
}

// Hit is one matching document.
type Hit struct {
	// ID is the document id.
	ID string `json:"id"`
	// Score is the document's relevance score.
	Score float64 `json:"score"`
	// Sort holds the hit's sort values, usable in SearchAfter.
	Sort []string `json:"sort,omitempty"`
	// Fields holds the requested stored fields.
	Fields map[string]any `json:"fields,omitempty"`
	// Fragments holds highlighted fragments by field.
	Fragments map[string][]string `json:"fragments,omitempty"`
	// Explanation is the score explanation, when asked for.
	Explanation json.RawMessage `json:"explanation,omitempty"`
}

// FacetResult is one merged facet.
type FacetResult struct {
	// Field is the faceted field.
	Field string `json:"field"`
	// Total counts the terms of matching documents in the field.
	Total int `json:"total"`
	// Missing counts matching documents without the field.
	Missing int `json:"missing"`
	// Other counts term occurrences not among Terms.
	Other int `json:"other"`
	// Terms are the top terms with their counts.
	Terms []TermCount `json:"terms,omitempty"`
	// NumericRanges holds numeric range buckets in Bleve's JSON, if any.
	NumericRanges json.RawMessage `json:"numeric_ranges,omitempty"`
	// DateRanges holds date range buckets in Bleve's JSON, if any.
	DateRanges json.RawMessage `json:"date_ranges,omitempty"`
}

// TermCount is one term of a term facet.
type TermCount struct {
	// Term is the term.
	Term string `json:"term"`
	// Count is the number of matching documents with it.
	Count int `json:"count"`
}

// ShardsInfo is the response's account of which shards answered.
type ShardsInfo struct {
	// Total is the number of shards queried.
	Total int `json:"total"`
	// Successful is the number that answered.
	Successful int `json:"successful"`
	// Failed is the number that did not.
	Failed int `json:"failed"`
	// Failures says which shards failed and why.
	Failures []ShardFailure `json:"failures,omitempty"`
}

// Coverage is the share of an index's documents an answer covers.
type Coverage struct {
	// Docs is the number of documents in the shards that answered.
	Docs uint64 `json:"docs"`
	// Total is the number of documents in all shards.
	Total uint64 `json:"total"`
	// Percent is Docs over Total: exactly 100 when every shard answered,
	// below 100 otherwise.
	Percent float64 `json:"percent"`
}

// The states of a shard missing from an answer (ShardFailure.State).
const (
	StateTimedOut    = "timed_out"
	StateFailed      = "failed"
	StateUnavailable = "unavailable"
	StateBehind      = "behind"
)

// ShardFailure is one shard missing from an answer.
type ShardFailure struct {
	// Shard is the shard number.
	Shard int `json:"shard"`
	// State is why, in one word: timed_out, failed, unavailable (no live
	// copy) or behind (no copy had the writes asked for, in time).
	State string `json:"state,omitempty"`
	// Node is the searcher node that was asked, if known.
	Node string `json:"node,omitempty"`
	// Copy names the copy tried last, by its node.
	Copy string `json:"copy,omitempty"`
	// Reason says why, e.g. "no responders" or "timeout".
	Reason string `json:"reason"`
}

// String summarises the failure as "shard 3 timed_out (node b): timeout".
func (f ShardFailure) String() string {
	var b strings.Builder
	b.WriteString("shard ")
	b.WriteString(strconv.Itoa(f.Shard))
	if f.State != "" {
		b.WriteString(" ")
		b.WriteString(f.State)
	}
	if f.Node != "" {
		b.WriteString(" (node ")
		b.WriteString(f.Node)
		b.WriteString(")")
	}
	if f.Reason != "" {
		b.WriteString(": ")
		b.WriteString(f.Reason)
	}
	return b.String()
}
