package protocol

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
)

func TestSearchReplyRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		reply SearchReply
	}{
		{"empty", SearchReply{Node: "n", Result: &bleve.SearchResult{}}},
		{"timed", SearchReply{Node: "s1", Took: 1500 * time.Microsecond, Shards: []NodeShardStatus{
			{Shard: 2, AppliedSeq: 7, Queue: 20 * time.Microsecond, Search: 900 * time.Microsecond},
			{Shard: 5, Code: CodeNotHere, Error: "not served", Queue: time.Microsecond},
		}, Result: &bleve.SearchResult{Total: 1, Hits: search.DocumentMatchCollection{{ID: "a", Score: 1}}}}},
		{"one shard failed", SearchReply{Node: "a", Shards: []NodeShardStatus{{Shard: 3, Code: CodeNotHere, Error: "not served"}}, Result: &bleve.SearchResult{}}},
		{"hits", SearchReply{
			Node:   "searcher-1",
			Shards: []NodeShardStatus{{Shard: 0, AppliedSeq: 42}, {Shard: 7, AppliedSeq: 1 << 40}},
			Result: &bleve.SearchResult{
				Total: 123, MaxScore: 3.25,
				Hits: search.DocumentMatchCollection{
					{ID: "go:net/http.Client.Do", Score: 3.25, Sort: []string{"_score"}},
					{ID: "ü/ñ", Score: 0.5, Sort: []string{"\x01\x02bin", "b"}, DecodedSort: []string{"12", "b"},
						Fields:    map[string]interface{}{"title": "Do", "n": 2.0},
						Fragments: search.FieldFragmentMap{"body": {"a <mark>b</mark>"}}},
				},
				Facets: search.FacetResults{"kind": &search.FacetResult{Field: "kind", Total: 3, Terms: func() *search.TermFacets {
					tf := &search.TermFacets{}
					tf.Add(&search.TermFacet{Term: "func", Count: 3})
					return tf
				}()}},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.reply.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			var got SearchReply
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if got.Took != tt.reply.Took {
				t.Errorf("took: got %v, want %v", got.Took, tt.reply.Took)
			}
			if got.Node != tt.reply.Node || len(got.Shards) != len(tt.reply.Shards) || len(got.Shards) > 0 && !reflect.DeepEqual(got.Shards, tt.reply.Shards) {
				t.Errorf("node/shards: got %q %+v, want %q %+v", got.Node, got.Shards, tt.reply.Node, tt.reply.Shards)
			}
			want, _ := json.Marshal(tt.reply.Result.Hits)
			have, _ := json.Marshal(got.Result.Hits)
			if len(got.Result.Hits) != len(tt.reply.Result.Hits) || len(got.Result.Hits) > 0 && string(want) != string(have) {
				t.Errorf("hits:\n got %s\nwant %s", have, want)
			}
			if got.Result.Total != tt.reply.Result.Total || got.Result.MaxScore != tt.reply.Result.MaxScore {
				t.Errorf("total/max: got %d %v", got.Result.Total, got.Result.MaxScore)
			}
			want, _ = json.Marshal(tt.reply.Result.Facets)
			have, _ = json.Marshal(got.Result.Facets)
			if len(tt.reply.Result.Facets) > 0 && string(want) != string(have) {
				t.Errorf("facets:\n got %s\nwant %s", have, want)
			}
			// Every strict prefix is an error, never a panic.
			for i := 0; i < len(b); i++ {
				var r SearchReply
				if err := r.UnmarshalBinary(b[:i]); err == nil {
					t.Fatalf("prefix of %d/%d bytes decoded without error", i, len(b))
				}
			}
		})
	}
}

func TestNodeSearchRequestRoundTrip(t *testing.T) {
	tests := []NodeSearchRequest{
		{Index: "i", UID: "u", Shards: []int{}, Request: json.RawMessage(`{}`)},
		{Index: "sample", UID: "abcdef", Shards: []int{0, 5, 300}, Request: json.RawMessage(`{"query":{"query":"x"},"size":10}`),
			Stats: json.RawMessage(`{"doc_count":5}`), Timeout: 3 * time.Second},
		{Index: "p", UID: "u", Shards: []int{1}, Request: json.RawMessage(`{}`), Profile: true},
		{Index: "i", UID: "u", Shards: []int{1, 2}, Request: json.RawMessage(`{}`), ID: "req-1"},
		{Index: "i", UID: "u", Shards: []int{1, 2}, Request: json.RawMessage(`{}`), ID: "req-2", MinSeqs: []uint64{0, 1 << 50}},
		{Index: "i", UID: "u", Shards: []int{4}, Request: json.RawMessage(`{}`), MinSeqs: []uint64{7}},
		{Index: "i", UID: "u", Shards: []int{3}, Request: json.RawMessage(`{}`), Profile: true, ID: "req-3", MinSeqs: []uint64{9}},
	}
	for _, r := range tests {
		b, err := r.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var got NodeSearchRequest
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("got %+v, want %+v", got, r)
		}
		if err := got.UnmarshalBinary(append(b, 0)); err == nil {
			t.Error("trailing byte accepted")
		}
		if err := got.UnmarshalBinary(b[:len(b)-1]); !errors.Is(err, errShortReply) {
			t.Errorf("truncated: %v, want %v", err, errShortReply)
		}
	}
	if _, err := (&NodeSearchRequest{Shards: []int{-1}}).AppendBinary(nil); err == nil {
		t.Error("negative shard encoded")
	}
	if _, err := (&NodeSearchRequest{Shards: []int{1, 2}, MinSeqs: []uint64{3}}).AppendBinary(nil); err == nil {
		t.Error("a minimum sequence missing for a shard encoded")
	}
}

// TestNodeSearchRequestVersions: a request with an id or minimum
// sequences is version 2 with their flags, the fields after the version 1
// ones; a decoder reused for a version 1 request keeps nothing of an
// earlier version 2 one.
func TestNodeSearchRequestVersions(t *testing.T) {
	plain := NodeSearchRequest{Index: "i", UID: "u", Shards: []int{0}, Request: json.RawMessage(`{}`)}
	b1, err := plain.AppendBinary(nil)
	if err != nil || b1[0] != 1 {
		t.Fatalf("plain request: version %d, %v; want 1", b1[0], err)
	}
	withID := plain
	withID.ID, withID.MinSeqs = "x", []uint64{9}
	b2, err := withID.AppendBinary(nil)
	if err != nil || b2[0] != 2 || b2[1] != flagID|flagMinSeqs {
		t.Fatalf("request with an id: version %d flags %#x, %v; want 2 with id and sequences", b2[0], b2[1], err)
	}
	// Version 2 is version 1's fields, then the id and the sequences.
	if want := append(append([]byte{2, flagID | flagMinSeqs}, b1[1:]...), 1, 'x', 9); string(b2) != string(want) {
		t.Errorf("version 2 bytes %v, want %v", b2, want)
	}
	var got NodeSearchRequest
	if err := got.UnmarshalBinary(b2); err != nil || got.ID != "x" || got.MinSeqs[0] != 9 {
		t.Fatalf("version 2: %+v, %v", got, err)
	}
	if err := got.UnmarshalBinary(b1); err != nil || got.ID != "" || got.MinSeqs != nil {
		t.Errorf("version 1 after version 2: %+v, %v", got, err)
	}
	if err := got.UnmarshalBinary(append(b2, 1)); err == nil {
		t.Error("a sequence more than shards decoded")
	}
	if err := got.UnmarshalBinary(append([]byte{3}, b1[1:]...)); err == nil {
		t.Error("unknown version 3 decoded")
	}
}

// TestVersionsStayCompatible: a reply without timings and a request without
// flags are encoded as version 1, byte for byte what a node or coordinator
// that knows only version 1 reads; unknown flags are refused.
func TestVersionsStayCompatible(t *testing.T) {
	plain, _ := (&SearchReply{Node: "n", Result: &bleve.SearchResult{}}).AppendBinary(nil)
	timed, _ := (&SearchReply{Node: "n", Took: time.Millisecond, Result: &bleve.SearchResult{}}).AppendBinary(nil)
	if plain[0] != 1 || timed[0] != 2 {
		t.Errorf("reply versions %d and %d, want 1 (no timings) and 2", plain[0], timed[0])
	}
	req, _ := (&NodeSearchRequest{Index: "i", Request: json.RawMessage(`{}`)}).AppendBinary(nil)
	prof, _ := (&NodeSearchRequest{Index: "i", Request: json.RawMessage(`{}`), Profile: true}).AppendBinary(nil)
	if req[0] != 1 || prof[0] != 2 || prof[1] != flagProfile {
		t.Errorf("request versions %v and %v", req[:2], prof[:2])
	}
	bad := append([]byte{2, 0x80}, req[1:]...)
	var r NodeSearchRequest
	if err := r.UnmarshalBinary(bad); err == nil {
		t.Error("unknown flags accepted")
	}
}

// FuzzSearchReply feeds arbitrary bytes to the reply decoder: it must fail
// cleanly or decode something that encodes back to a reply decoding the same.
func FuzzSearchReply(f *testing.F) {
	r := SearchReply{Node: "n", Shards: []NodeShardStatus{{Shard: 1, AppliedSeq: 9}}, Result: &bleve.SearchResult{
		Total: 2, Hits: search.DocumentMatchCollection{{ID: "a", Score: 1, Sort: []string{"_score"}, Fields: map[string]interface{}{"x": "y"}}}}}
	b, _ := r.AppendBinary(nil)
	f.Add(b)
	r.Took, r.Shards[0].Queue, r.Shards[0].Search = time.Millisecond, time.Microsecond, 3*time.Microsecond
	b, _ = r.AppendBinary(nil)
	f.Add(b)
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r SearchReply
		if err := r.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := r.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded reply does not encode: %v", err)
		}
		var r2 SearchReply
		if err := r2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded reply does not decode: %v", err)
		}
		if len(r2.Result.Hits) != len(r.Result.Hits) || r2.Node != r.Node || len(r2.Shards) != len(r.Shards) {
			t.Fatalf("round trip changed the reply")
		}
	})
}

// FuzzNodeSearchRequest: arbitrary bytes decode cleanly or fail.
func FuzzNodeSearchRequest(f *testing.F) {
	r := NodeSearchRequest{Index: "i", UID: "u", Shards: []int{0, 2}, Request: json.RawMessage(`{"size":1}`), Timeout: time.Second}
	b, _ := r.AppendBinary(nil)
	f.Add(b)
	r.Profile = true
	b, _ = r.AppendBinary(nil)
	f.Add(b)
	r.ID, r.MinSeqs = "id", []uint64{5, 0}
	b, _ = r.AppendBinary(nil)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r NodeSearchRequest
		if err := r.UnmarshalBinary(data); err != nil {
			return
		}
		if _, err := r.AppendBinary(nil); err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
	})
}

// TestIngestIDRoundTrip: the id a write carries in its subject comes back
// byte for byte, whitespace and all; a subject of another shard or
// incarnation is refused.
func TestIngestIDRoundTrip(t *testing.T) {
	prefix := IngestShardPrefix("books", "00ff", 3)
	for _, id := range []string{"victim", " victim ", " ", "\t", "a\nb", "ünï", "a.b.c", ">", "*", string([]byte{0xff})} {
		subj := IngestSubject("books", "00ff", 3, id)
		got, err := IngestID(subj, prefix)
		if err != nil || got != id {
			t.Errorf("IngestID(%q) = %q, %v; want %q", subj, got, err, id)
		}
	}
	for _, subj := range []string{
		IngestSubject("books", "00fe", 3, "x"), // another incarnation
		IngestSubject("books", "00ff", 4, "x"), // another shard
		prefix,                                 // no id
		prefix + "a.b",                         // two tokens
		prefix + "!!",                          // not base64url
	} {
		if id, err := IngestID(subj, prefix); err == nil {
			t.Errorf("IngestID(%q) = %q, want an error", subj, id)
		}
	}
}
