package protocol

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Headers carried by ingest messages.
const (
	// HeaderOp is "put" or "delete". (The document id travels in the
	// subject: see IngestSubject.)
	HeaderOp = "Shoal-Op"
)

// Headers of a failed request's reply, the same that NATS micro services
// send (micro.ErrorCodeHeader and micro.ErrorHeader); DecodeReply turns
// them into a *ShardError.
const (
	HeaderErrorCode = "Nats-Service-Error-Code"
	HeaderError     = "Nats-Service-Error"
)

// Ingest operations.
const (
	OpPut    = "put"
	OpDelete = "delete"
)

// GlobalStats are corpus statistics summed over every shard of an index,
// so that each shard scores with the figures of the whole index.
type GlobalStats struct {
	DocCount uint64 `json:"doc_count"`
	// Fields maps a field to its cardinality as Bleve's BM25 uses it (the
	// field's number of distinct terms; the mean field length is that over
	// DocCount).
	Fields map[string]int `json:"fields"`
	// Terms maps field → term → number of documents containing it.
	Terms map[string]map[string]uint64 `json:"terms"`
}

// Add sums o into s.
func (s *GlobalStats) Add(o *GlobalStats) {
	s.DocCount += o.DocCount
	if s.Fields == nil {
		s.Fields = make(map[string]int, len(o.Fields))
	}
	for f, c := range o.Fields {
		s.Fields[f] += c
	}
	if s.Terms == nil {
		s.Terms = make(map[string]map[string]uint64, len(o.Terms))
	}
	for f, terms := range o.Terms {
		dst := s.Terms[f]
		if dst == nil {
			dst = make(map[string]uint64, len(terms))
			s.Terms[f] = dst
		}
		for t, n := range terms {
			dst[t] += n
		}
	}
}

// PresearchRequest asks a shard for statistics: always its document
// count and applied sequence; the term tables of Fields; and, with Query,
// the document frequency of every term the query scores (fuzzy expansions
// included). Every figure of the answer comes from one snapshot of the
// shard.
type PresearchRequest struct {
	// Query, when set, is a bleve query in its JSON form.
	Query json.RawMessage `json:"query,omitempty"`
	// Fields are the fields whose term tables the coordinator wants.
	Fields []string `json:"fields,omitempty"`
	// Have maps a field to the applied sequence at which the coordinator
	// already holds this shard's term table of that field; the shard
	// leaves out the tables that are current there.
	Have map[string]uint64 `json:"have,omitempty"`
	// MinSeq and Timeout are as in SearchRequest: statistics for a
	// read-your-writes search come from a copy that has applied MinSeq.
	MinSeq  uint64        `json:"min_seq,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// PresearchResponse carries one shard's local statistics, all read from
// one snapshot of the shard.
type PresearchResponse struct {
	Node string `json:"node"`
	// AppliedSeq is the stream sequence of the snapshot the figures
	// describe (committed in the same batch as its documents).
	AppliedSeq uint64 `json:"applied_seq"`
	// Stats holds the snapshot's document count; for each field asked for
	// or read by the query, the shard's own BM25 cardinality (used only
	// when no term tables are at hand); and the query's terms.
	Stats GlobalStats `json:"stats"`
	// Tables holds, for the fields asked for whose table the coordinator
	// does not hold at AppliedSeq, the field's TermTable (AppendBinary).
	// Bleve's BM25 takes a field's average length from its number of
	// distinct terms, which does not add up over shards; the size of the
	// tables' union does, and the tables' counts are each term's document
	// frequency.
	Tables map[string][]byte `json:"tables,omitempty"`
}

// SearchRequest asks one shard copy to run a search; the answer is a
// SearchReply with one status.
type SearchRequest struct {
	// Request is a bleve SearchRequest in its JSON form, already widened
	// by the coordinator (from+size, facet sizes).
	Request json.RawMessage `json:"request"`
	// Stats, when set, are the GlobalStats to score with, in JSON.
	Stats json.RawMessage `json:"stats,omitempty"`
	// Timeout bounds the shard's work.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Profile asks for the copy's timings in the reply (SearchReply.Took).
	Profile bool `json:"profile,omitempty"`
	// ID names the request for a later cancel (OpCancel on the node's
	// subject); "" cannot be cancelled.
	ID string `json:"id,omitempty"`
	// MinSeq, when set, is the stream sequence the copy must have applied
	// before it answers (read-your-writes): a copy behind it waits for up
	// to half of Timeout, then answers CodeBehind.
	MinSeq uint64 `json:"min_seq,omitempty"`
}

// NodeSearchRequest asks one searcher node to run a search on several
// shards of an index it holds and to merge their answers, so a query costs
// one message per node rather than one per shard. It travels in binary
// (AppendBinary), so that the node does not scan the statistics it may
// already hold decoded; the answer is a SearchReply.
type NodeSearchRequest struct {
	Index string
	// UID is the index's identity: a node holding shards of a deleted
	// and re-created index of the same name refuses the request.
	UID    string
	Shards []int
	// Request is a bleve SearchRequest in its JSON form, already widened
	// by the coordinator (from 0, size from+size, facet sizes).
	Request json.RawMessage
	// Stats, when set, are the GlobalStats to score with, in binary
	// (GlobalStats.AppendBinary) or JSON: see DecodeGlobalStats.
	Stats   []byte
	Timeout time.Duration
	// Profile asks for the node's timings in the reply (SearchReply.Took
	// and each shard's Queue and Search).
	Profile bool
	// ID names the request for a later cancel (OpCancel on the node's
	// subject); "" cannot be cancelled.
	ID string
	// MinSeqs, when not nil, holds for each of Shards the stream sequence
	// its copy must have applied before it answers (read-your-writes; 0
	// for none). A copy behind waits for up to half of Timeout, then its
	// shard answers CodeBehind.
	MinSeqs []uint64
}

// NodeShardStatus is how one shard of a search fared.
type NodeShardStatus struct {
	Shard      int    `json:"shard"`
	AppliedSeq uint64 `json:"applied_seq"`
	// Code is zero when the shard answered, else one of the Code
	// constants; CodeNotHere means the node does not serve the shard.
	Code  int    `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
	// Queue is how long the shard's search waited for a worker on the
	// node, and Search how long it ran (reported only when profiled).
	Queue  time.Duration `json:"queue,omitempty"`
	Search time.Duration `json:"search,omitempty"`
}

// GetRequest asks a shard for a stored document.
type GetRequest struct {
	ID string `json:"id"`
	// MinSeq and Timeout are as in SearchRequest: a copy that has not
	// applied MinSeq waits for up to half of Timeout, then answers
	// CodeBehind.
	MinSeq  uint64        `json:"min_seq,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// GetResponse is a stored document, if found.
type GetResponse struct {
	Node  string          `json:"node"`
	Found bool            `json:"found"`
	Doc   json.RawMessage `json:"doc,omitempty"`
}

// WaitRequest asks a copy to answer once it has applied stream sequence
// Seq (or when Timeout passes).
type WaitRequest struct {
	Seq     uint64        `json:"seq"`
	Timeout time.Duration `json:"timeout"`
}

// Micro service error codes a shard answers with.
const (
	CodeBadRequest = 400
	CodeNotHere    = 404
	CodeTimeout    = 408
	// CodeBehind answers a request whose copy has not applied the
	// sequence it asked for (MinSeq) in time.
	CodeBehind      = 425
	CodeUnavailable = 503
	CodeInternal    = 500
)

// ShardError is an error answered by a shard copy.
type ShardError struct {
	Code        int
	Description string
}

func (e *ShardError) Error() string {
	return fmt.Sprintf("shard error %d: %s", e.Code, e.Description)
}

// ErrBadRequest is matched by errors.Is for shard errors with CodeBadRequest.
var ErrBadRequest = errors.New("bad request")

// ErrBehind is matched by errors.Is for shard errors with CodeBehind.
var ErrBehind = errors.New("copy behind the sequence asked for")

// Is lets errors.Is(err, ErrBadRequest) recognise a rejected request, and
// errors.Is(err, ErrBehind) a copy behind.
func (e *ShardError) Is(target error) bool {
	return target == ErrBadRequest && e.Code == CodeBadRequest ||
		target == ErrBehind && e.Code == CodeBehind
}

// DecodeReply decodes a searcher's reply into v (JSON, or binary for an
// encoding.BinaryUnmarshaler such as *SearchReply), turning a service error
// header into a *ShardError.
func DecodeReply(msg *nats.Msg, v any) error {
	if code := msg.Header.Get(HeaderErrorCode); code != "" {
		c, _ := strconv.Atoi(code)
		return &ShardError{Code: c, Description: msg.Header.Get(HeaderError)}
	}
	if u, ok := v.(encoding.BinaryUnmarshaler); ok {
		return u.UnmarshalBinary(msg.Data)
	}
	if err := json.Unmarshal(msg.Data, v); err != nil {
		return fmt.Errorf("decode reply: %w", err)
	}
	return nil
}
