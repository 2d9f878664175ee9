package coordinator

import (
	"errors"
	"fmt"

	"github.com/blevesearch/bleve/v2/search"
)

// Response is the merged answer to a search, as the JSON API returns it.
type Response struct {
	Hits      []Hit               `json:"hits"`
	TotalHits uint64              `json:"total_hits"`
	MaxScore  float64             `json:"max_score"`
	TookMS    int64               `json:"took_ms"`
	Facets    search.FacetResults `json:"facets,omitempty"`
	Shards    ShardsAccount       `json:"shards"`
	Partial   bool                `json:"partial"`
	TimedOut  bool                `json:"timed_out"`
}

// Hit is one matching document.
type Hit struct {
	ID        string              `json:"id"`
	Score     float64             `json:"score"`
	Sort      []string            `json:"sort,omitempty"`
	Fields    map[string]any      `json:"fields,omitempty"`
	Fragments map[string][]string `json:"fragments,omitempty"`
}

// ShardsAccount says which shards a response covers.
type ShardsAccount struct {
	Total      int            `json:"total"`
	Successful int            `json:"successful"`
	Failed     int            `json:"failed"`
	Failures   []ShardFailure `json:"failures"`
}

// ShardFailure names a shard that did not answer, the copy tried last and why.
type ShardFailure struct {
	Shard  int    `json:"shard"`
	Node   string `json:"node,omitempty"`
	Reason string `json:"reason"`
}

// Reasons a shard failed.
const (
	ReasonNoResponders = "no responders"
	ReasonTimeout      = "timeout"
	ReasonNotPlaced    = "not placed on any node"
)

// RequestError is a search request the coordinator or a shard rejected as
// malformed (HTTP 400).
type RequestError struct {
	Type string
	Err  error
}

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

// UnavailableError is returned when shards are missing and the request did
// not allow a partial answer (HTTP 503). It carries the shard account.
type UnavailableError struct {
	Shards   ShardsAccount
	TimedOut bool
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%d of %d shards did not answer and allow_partial is false", e.Shards.Failed, e.Shards.Total)
}

// ErrUnavailable is matched by errors.Is for an *UnavailableError.
var ErrUnavailable = errors.New("shards unavailable")

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }
