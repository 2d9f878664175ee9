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

// respond completes out with the shard account and its coverage (the
// shards holding docs documents each), and decides, in this one place,
// whether it is the answer, a partial answer or an error.
func respond(q *query, out *Response, outcomes []shardOutcome, docs []uint64, start time.Time) (*Response, error) {
	out.Shards, out.TimedOut = account(outcomes)
	out.Coverage = coverage(outcomes, docs)
	out.Partial = out.Shards.Failed > 0
	out.Statistics = statistics(q)
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
	if out.Shards.Successful == 0 || out.Coverage.Percent < q.minCoverage {
		// Too little to answer with (a partial answer is below 100, so
		// min_coverage 100 refuses any): the error carries the account.
		return out, &UnavailableError{Shards: out.Shards, TimedOut: out.TimedOut, PartialRefused: !q.allowPartial,
			Coverage: out.Coverage, MinCoverage: q.minCoverage}
	}
	return out, nil // a partial answer, allowed, that says what it misses
}

// statistics says whose figures q's scores were worked out with; nil for
// a search that scores nothing.
func statistics(q *query) *Statistics {
	if q.counted == nil {
		return nil
	}
	st := &Statistics{Missing: []int{}, Stale: q.stale}
	for s, ok := range q.counted {
		if ok {
			st.Shards++
		} else {
			st.Missing = append(st.Missing, s)
		}
	}
	if st.Stale == nil {
		st.Stale = []int{}
	}
	st.Exact = len(st.Missing) == 0 && len(st.Stale) == 0
	return st
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
		f := failure(s, o.node, o.err)
		timedOut = timedOut || f.State == StateTimedOut
		acc.Failed++
		acc.Failures = append(acc.Failures, f)
	}
	return acc, timedOut
}

// failure is the account of shard, which failed with err, node's copy
// tried last.
func failure(shard int, node string, err error) ShardFailure {
	state, reason := failureReason(err)
	return ShardFailure{Shard: shard, State: state, Node: node, Copy: node, Reason: reason}
}

// failureReason is the state of a shard that failed with err, and the
// reason as the account names it.
func failureReason(err error) (state, reason string) {
	var se *protocol.ShardError
	isShard := errors.As(err, &se)
	switch {
	case err == nil:
		return StateFailed, "no result"
	case errors.Is(err, protocol.ErrBehind), errors.Is(err, errTooFarBehind):
		if isShard {
			return StateBehind, se.Description
		}
		return StateBehind, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return StateTimedOut, ReasonTimeout
	case errors.Is(err, errNotPlaced):
		return StateUnavailable, ReasonNotPlaced
	case errors.Is(err, nats.ErrNoResponders):
		return StateUnavailable, ReasonNoResponders
	case isShard && se.Code == protocol.CodeTimeout:
		return StateTimedOut, ReasonTimeout
	case isShard && se.Code == protocol.CodeNotHere:
		return StateUnavailable, se.Description
	default:
		return StateFailed, err.Error()
	}
}

// Response is the merged answer to a search, as the JSON API returns it.
type Response struct {
	Hits      []Hit               `json:"hits"`
	TotalHits uint64              `json:"total_hits"`
	MaxScore  float64             `json:"max_score"`
	TookMS    int64               `json:"took_ms"`
	Facets    search.FacetResults `json:"facets,omitempty"`
	Coverage  Coverage            `json:"coverage"`
	Shards    ShardsAccount       `json:"shards"`
	Partial   bool                `json:"partial"`
	TimedOut  bool                `json:"timed_out"`
	// Statistics says whose figures the scores were worked out with
	// (absent when the search scores nothing).
	Statistics *Statistics `json:"statistics,omitempty"`
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

// Statistics says which shards' figures (document counts, document
// frequencies, field lengths) the scores were worked out with. Exact is
// true when every shard of the index was counted at its current state:
// the scores are then those one index holding every document would give.
// A shard missing from the statistics (its copies did not answer in time)
// or counted with figures that could not be brought up to date makes the
// scores approximate, also when the shard answered the search itself.
type Statistics struct {
	Exact bool `json:"exact"`
	// Shards is how many shards were counted.
	Shards int `json:"shards"`
	// Missing lists the shards left out; Stale the shards counted with
	// figures older than their copies' latest writes.
	Missing []int `json:"missing"`
	Stale   []int `json:"stale"`
}

// ShardsAccount says which shards a response covers.
type ShardsAccount struct {
	Total      int            `json:"total"`
	Successful int            `json:"successful"`
	Failed     int            `json:"failed"`
	Failures   []ShardFailure `json:"failures"`
}

// ShardFailure names a shard that did not answer, its state, the copy
// tried last and why.
type ShardFailure struct {
	Shard int `json:"shard"`
	// State is one of the State constants.
	State string `json:"state"`
	// Node is the node whose copy was tried last ("" for the shard's
	// queue group); Copy names that copy, by the same node name.
	Node   string `json:"node,omitempty"`
	Copy   string `json:"copy,omitempty"`
	Reason string `json:"reason"`
}

// The states of a shard: answered (in a profile), or why it did not.
const (
	// StateAnswered: a copy answered (a profile's shards only).
	StateAnswered = "answered"
	// StateTimedOut: a copy was asked and did not answer in time.
	StateTimedOut = "timed_out"
	// StateFailed: a copy answered with an error.
	StateFailed = "failed"
	// StateUnavailable: no live copy (none placed, or none answering on
	// the network).
	StateUnavailable = "unavailable"
	// StateBehind: no copy had applied the writes the request asked to
	// see (after=TOKEN) in time, or every copy lags more than max_lag.
	StateBehind = "behind"
)

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

// UnavailableError is returned when shards are missing and the answer
// covers less than the request accepts (HTTP 503): no shard answered, or
// the coverage is below its min_coverage (100 with allow_partial false).
// It carries the shard account and the coverage.
type UnavailableError struct {
	Shards   ShardsAccount
	TimedOut bool
	// PartialRefused is set when the request itself refused a partial
	// answer (allow_partial=false).
	PartialRefused bool
	// Coverage is the answer's coverage; MinCoverage the least the
	// request accepted (100 with allow_partial=false).
	Coverage    Coverage
	MinCoverage float64
}

func (e *UnavailableError) Error() string {
	why := ""
	if e.TimedOut {
		why = " in time"
	}
	switch {
	case e.Shards.Successful == 0:
		return fmt.Sprintf("none of the %d shards answered%s", e.Shards.Total, why)
	case e.PartialRefused:
		return fmt.Sprintf("%d of %d shards did not answer%s and allow_partial is false", e.Shards.Failed, e.Shards.Total, why)
	case e.MinCoverage >= 100:
		return fmt.Sprintf("%d of %d shards did not answer%s and min_coverage is 100", e.Shards.Failed, e.Shards.Total, why)
	case e.MinCoverage > 0:
		return fmt.Sprintf("the answer covers %v%% of the documents, below min_coverage %v (%d of %d shards did not answer%s)",
			e.Coverage.Percent, e.MinCoverage, e.Shards.Failed, e.Shards.Total, why)
	default:
		return fmt.Sprintf("%d of %d shards did not answer%s", e.Shards.Failed, e.Shards.Total, why)
	}
}

// ErrUnavailable is matched by errors.Is for an *UnavailableError.
var ErrUnavailable = errors.New("shards unavailable")

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }
