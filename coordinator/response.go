package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/blevesearch/bleve/v2/search"
	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/rewrite"
)

// respond completes out with the shard account and decides, in this one
// place, whether it is the answer, a partial answer or an error.
func respond(q *query, out *Response, outcomes []shardOutcome, start time.Time) (*Response, error) {
	out.Shards, out.TimedOut = account(outcomes)
	out.Partial = out.Shards.Failed > 0
	out.TookMS = time.Since(start).Milliseconds()
	if out.Shards.Failed == 0 {
		return out, nil // every shard answered
	}
	for _, o := range outcomes {
		// The search went past a limit: its answer is that error.
		if errors.Is(o.err, rewrite.ErrLimit) {
			return nil, o.err
		}
		// A shard rejected the query itself: every shard would.
		var se *protocol.ShardError
		if errors.As(o.err, &se) && se.Code == protocol.CodeBadRequest {
			return nil, &RequestError{Type: "search_error", Err: errors.New(se.Description)}
		}
	}
	if !q.allowPartial || out.Shards.Successful == 0 {
		// Too little to answer with: the error carries the account.
		return out, &UnavailableError{Shards: out.Shards, TimedOut: out.TimedOut, PartialRefused: !q.allowPartial}
	}
	return out, nil // a partial answer, allowed, that says what it misses
}

// account says which shards answered, and why the others did not; it
// reports whether any of them ran out of time.
func account(outcomes []shardOutcome) (acc ShardsAccount, timedOut bool) {
	acc = ShardsAccount{Total: len(outcomes), Failures: []ShardFailure{}}
	for s, o := range outcomes {
		if o.err == nil && o.answered {
			acc.Successful++
			continue
		}
		reason, timeout := failureReason(o.err)
		timedOut = timedOut || timeout
		acc.Failed++
		acc.Failures = append(acc.Failures, ShardFailure{Shard: s, Node: o.node, Reason: reason})
	}
	return acc, timedOut
}

// failureReason is the reason a shard failed with err, as the account
// names it, and whether it ran out of time.
func failureReason(err error) (string, bool) {
	var se *protocol.ShardError
	switch {
	case err == nil:
		return "no result", false
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout, true
	case errors.Is(err, errNotPlaced):
		return ReasonNotPlaced, false
	case errors.Is(err, nats.ErrNoResponders):
		return ReasonNoResponders, false
	case errors.As(err, &se) && se.Code == protocol.CodeTimeout:
		return ReasonTimeout, true
	default:
		return err.Error(), false
	}
}

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
	// Profile, asked for with Request.Profile, says where the time went.
	Profile *Profile `json:"profile,omitempty"`
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
	// PartialRefused is set when the request itself refused a partial
	// answer (allow_partial=false); otherwise no shard answered at all.
	PartialRefused bool
}

func (e *UnavailableError) Error() string {
	why := ""
	if e.TimedOut {
		why = " in time"
	}
	switch {
	case e.PartialRefused:
		return fmt.Sprintf("%d of %d shards did not answer%s and allow_partial is false", e.Shards.Failed, e.Shards.Total, why)
	case e.Shards.Successful == 0:
		return fmt.Sprintf("none of the %d shards answered%s", e.Shards.Total, why)
	default:
		return fmt.Sprintf("%d of %d shards did not answer%s", e.Shards.Failed, e.Shards.Total, why)
	}
}

// ErrUnavailable is matched by errors.Is for an *UnavailableError.
var ErrUnavailable = errors.New("shards unavailable")

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }
