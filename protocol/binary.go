package protocol

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
)

// SearchReply is a searcher's answer to a search: one status per shard it
// was asked for (NodeSearchRequest) or the one shard (SearchRequest), and
// the merged result of the shards that answered.
//
// It travels in a compact binary form (AppendBinary, UnmarshalBinary)
// rather than JSON: every query decodes one per node, and the hits' ids,
// scores and sort keys are most of it. What few hits carry beyond those
// (stored fields, fragments, locations, explanations) stays JSON inside.
type SearchReply struct {
	Node   string
	Shards []NodeShardStatus
	// Result holds the merged Hits, Total, MaxScore and Facets (untrimmed).
	Result *bleve.SearchResult
	// Took, when positive, is how long the node spent on the request, from
	// receiving it to encoding this reply; the shards' Queue and Search
	// times then say where it went. A node reports them only when the
	// request asked (Profile), and they travel only in version 2.
	Took time.Duration
}

// Versions of an encoded SearchReply, its first byte: version 2 adds the
// node's timings (Took, and each shard's Queue and Search) and is sent
// only to a coordinator that asked for them, so one that reads only
// version 1 is never sent one.
const (
	searchReplyVersion      = 1
	searchReplyVersionTimed = 2
)

// hitExtras is the JSON part of an encoded hit: whatever it has beyond id,
// score and sort keys.
type hitExtras struct {
	Expl        *search.Explanation         `json:"explanation,omitempty"`
	Locations   search.FieldTermLocationMap `json:"locations,omitempty"`
	Fragments   search.FieldFragmentMap     `json:"fragments,omitempty"`
	DecodedSort []string                    `json:"decoded_sort,omitempty"`
	Fields      map[string]interface{}      `json:"fields,omitempty"`
}

// AppendBinary appends r's binary encoding to b.
func (r *SearchReply) AppendBinary(b []byte) ([]byte, error) {
	timed := r.Took > 0
	if timed {
		b = append(b, searchReplyVersionTimed)
	} else {
		b = append(b, searchReplyVersion)
	}
	b = appendString(b, r.Node)
	if timed {
		b = binary.AppendUvarint(b, uint64(r.Took))
	}
	b = binary.AppendUvarint(b, uint64(len(r.Shards)))
	for _, s := range r.Shards {
		b = binary.AppendUvarint(b, uint64(s.Shard))
		b = binary.AppendUvarint(b, s.AppliedSeq)
		b = binary.AppendUvarint(b, uint64(s.Code))
		b = appendString(b, s.Error)
		if timed {
			b = binary.AppendUvarint(b, uint64(max(s.Queue, 0)))
			b = binary.AppendUvarint(b, uint64(max(s.Search, 0)))
		}
	}
	res := r.Result
	if res == nil {
		res = &bleve.SearchResult{}
	}
	b = binary.AppendUvarint(b, res.Total)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(res.MaxScore))
	b = binary.AppendUvarint(b, uint64(len(res.Hits)))
	for _, h := range res.Hits {
		b = appendString(b, h.ID)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(h.Score))
		b = binary.AppendUvarint(b, uint64(len(h.Sort)))
		for _, s := range h.Sort {
			b = appendString(b, s)
		}
		x := hitExtras{Expl: h.Expl, Locations: h.Locations, Fragments: h.Fragments, DecodedSort: h.DecodedSort, Fields: h.Fields}
		if x.Expl == nil && len(x.Locations) == 0 && len(x.Fragments) == 0 && len(x.DecodedSort) == 0 && len(x.Fields) == 0 {
			b = append(b, 0)
			continue
		}
		raw, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("encode hit %q: %w", h.ID, err)
		}
		b = appendBytes(b, raw)
	}
	if len(res.Facets) == 0 {
		return append(b, 0), nil
	}
	raw, err := json.Marshal(res.Facets)
	if err != nil {
		return nil, fmt.Errorf("encode facets: %w", err)
	}
	return appendBytes(b, raw), nil
}

// errShortReply is returned by the binary decoders for truncated input.
var errShortReply = errors.New("broker: truncated message")

// UnmarshalBinary decodes an encoded SearchReply. The strings it holds
// share one copy of data.
func (r *SearchReply) UnmarshalBinary(data []byte) error {
	d := wireDecoder{s: string(data)}
	v := d.byte()
	if v != searchReplyVersion && v != searchReplyVersionTimed {
		if d.err != nil {
			return d.err
		}
		return fmt.Errorf("search reply: unknown version %d", v)
	}
	timed := v == searchReplyVersionTimed
	r.Node = d.string()
	r.Took = 0
	if timed {
		r.Took = d.duration()
	}
	n := d.count(4)
	r.Shards = make([]NodeShardStatus, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		st := NodeShardStatus{Shard: d.int(), AppliedSeq: d.uvarint(), Code: d.int(), Error: d.string()}
		if timed {
			st.Queue, st.Search = d.duration(), d.duration()
		}
		r.Shards = append(r.Shards, st)
	}
	res := &bleve.SearchResult{Status: &bleve.SearchStatus{}}
	res.Total = d.uvarint()
	res.MaxScore = d.float()
	n = d.count(11)
	matches := make([]search.DocumentMatch, n)
	res.Hits = make(search.DocumentMatchCollection, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		h := &matches[i]
		h.ID = d.string()
		h.Score = d.float()
		if k := d.count(1); k > 0 {
			h.Sort = make([]string, 0, k)
			for j := 0; j < k && d.err == nil; j++ {
				h.Sort = append(h.Sort, d.string())
			}
		}
		if raw := d.string(); len(raw) > 0 && d.err == nil {
			var x hitExtras
			if err := json.Unmarshal([]byte(raw), &x); err != nil {
				return fmt.Errorf("search reply: hit %q: %w", h.ID, err)
			}
			h.Expl, h.Locations, h.Fragments, h.DecodedSort, h.Fields = x.Expl, x.Locations, x.Fragments, x.DecodedSort, x.Fields
		}
		res.Hits = append(res.Hits, h)
	}
	if raw := d.string(); len(raw) > 0 && d.err == nil {
		if err := json.Unmarshal([]byte(raw), &res.Facets); err != nil {
			return fmt.Errorf("search reply: facets: %w", err)
		}
	}
	if d.err != nil {
		return d.err
	}
	if len(d.s) > 0 {
		return fmt.Errorf("search reply: %d bytes after the end", len(d.s))
	}
	r.Result = res
	return nil
}

// Versions of an encoded NodeSearchRequest, its first byte: version 2
// adds a flags byte, and after the version 1 fields what the flags say
// follows. It is sent only when a flag is set, so a node that reads only
// version 1 still gets every plain search.
const (
	nodeSearchRequestVersion      = 1
	nodeSearchRequestVersionFlags = 2
)

// The flags of a version 2 NodeSearchRequest.
const (
	// flagProfile asks for the node's timings.
	flagProfile = 1
	// flagID: the request's id (for a cancel) follows the version 1
	// fields.
	flagID = 2
	// flagMinSeqs: the sequence each shard must have applied follows
	// (after the id, if any), one per shard.
	flagMinSeqs = 4
	knownFlags  = flagProfile | flagID | flagMinSeqs
)

// flags are r's flags in its version 2 encoding (0: version 1).
func (r *NodeSearchRequest) flags() byte {
	var f byte
	if r.Profile {
		f |= flagProfile
	}
	if r.ID != "" {
		f |= flagID
	}
	if r.MinSeqs != nil {
		f |= flagMinSeqs
	}
	return f
}

// AppendBinary appends r's binary encoding to b.
func (r *NodeSearchRequest) AppendBinary(b []byte) ([]byte, error) {
	if r.Timeout < 0 {
		return nil, fmt.Errorf("node search request: negative timeout %v", r.Timeout)
	}
	if r.MinSeqs != nil && len(r.MinSeqs) != len(r.Shards) {
		return nil, fmt.Errorf("node search request: %d minimum sequences for %d shards", len(r.MinSeqs), len(r.Shards))
	}
	flags := r.flags()
	if flags != 0 {
		b = append(b, nodeSearchRequestVersionFlags, flags)
	} else {
		b = append(b, nodeSearchRequestVersion)
	}
	b = appendString(b, r.Index)
	b = appendString(b, r.UID)
	b = binary.AppendUvarint(b, uint64(len(r.Shards)))
	for _, s := range r.Shards {
		if s < 0 {
			return nil, fmt.Errorf("node search request: negative shard %d", s)
		}
		b = binary.AppendUvarint(b, uint64(s))
	}
	b = binary.AppendUvarint(b, uint64(r.Timeout))
	b = appendBytes(b, r.Request)
	b = appendBytes(b, r.Stats)
	if flags&flagID != 0 {
		b = appendString(b, r.ID)
	}
	if flags&flagMinSeqs != 0 {
		for _, seq := range r.MinSeqs {
			b = binary.AppendUvarint(b, seq)
		}
	}
	return b, nil
}

// UnmarshalBinary decodes an encoded NodeSearchRequest of either version.
func (r *NodeSearchRequest) UnmarshalBinary(data []byte) error {
	d := wireDecoder{s: string(data)}
	v := d.byte()
	if v != nodeSearchRequestVersion && v != nodeSearchRequestVersionFlags {
		if d.err != nil {
			return d.err
		}
		return fmt.Errorf("node search request: unknown version %d", v)
	}
	var flags byte
	if v == nodeSearchRequestVersionFlags {
		flags = d.byte()
		if flags&^knownFlags != 0 && d.err == nil {
			return fmt.Errorf("node search request: unknown flags %#x", flags)
		}
	}
	r.Profile = flags&flagProfile != 0
	r.Index = d.string()
	r.UID = d.string()
	n := d.count(1)
	r.Shards = make([]int, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		r.Shards = append(r.Shards, d.int())
	}
	t := d.uvarint()
	if t > math.MaxInt64 {
		d.fail()
	}
	r.Timeout = time.Duration(t)
	r.Request = json.RawMessage(d.string())
	r.Stats = nil
	if st := d.string(); st != "" {
		r.Stats = []byte(st)
	}
	r.ID, r.MinSeqs = "", nil
	if flags&flagID != 0 {
		r.ID = d.string()
	}
	if flags&flagMinSeqs != 0 {
		r.MinSeqs = make([]uint64, 0, len(r.Shards))
		for i := 0; i < len(r.Shards) && d.err == nil; i++ {
			r.MinSeqs = append(r.MinSeqs, d.uvarint())
		}
	}
	if d.err != nil {
		return d.err
	}
	if len(d.s) > 0 {
		return fmt.Errorf("node search request: %d bytes after the end", len(d.s))
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// wireDecoder reads a binary-encoded message; the first error sticks and
// every later read returns zero values.
type wireDecoder struct {
	s   string
	err error
}

func (d *wireDecoder) fail() {
	if d.err == nil {
		d.err = errShortReply
	}
	d.s = ""
}

func (d *wireDecoder) byte() byte {
	if len(d.s) < 1 {
		d.fail()
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *wireDecoder) uvarint() uint64 {
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if i >= len(d.s) {
			d.fail()
			return 0
		}
		c := d.s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // overflow
			}
			d.s = d.s[i+1:]
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	if d.err == nil {
		d.err = errors.New("search reply: bad varint")
	}
	d.s = ""
	return 0
}

// int reads a uvarint that must fit an int.
func (d *wireDecoder) int() int {
	v := d.uvarint()
	if v > math.MaxInt32 {
		if d.err == nil {
			d.err = fmt.Errorf("search reply: number %d out of range", v)
		}
		d.s = ""
		return 0
	}
	return int(v)
}

// count reads a number of items each at least minSize bytes long, checked
// against what is left so a bad count cannot ask for a huge allocation.
func (d *wireDecoder) count(minSize int) int {
	n := d.uvarint()
	if n > uint64(len(d.s)/minSize) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *wireDecoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.fail()
		return ""
	}
	s := d.s[:n]
	d.s = d.s[n:]
	return s
}

// duration reads a uvarint that must fit a time.Duration.
func (d *wireDecoder) duration() time.Duration {
	v := d.uvarint()
	if v > math.MaxInt64 {
		d.fail()
		return 0
	}
	return time.Duration(v)
}

func (d *wireDecoder) float() float64 {
	if len(d.s) < 8 {
		d.fail()
		return 0
	}
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(d.s[i])
	}
	d.s = d.s[8:]
	return math.Float64frombits(v)
}
