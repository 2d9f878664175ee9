package bench

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"

	"github.com/shoal-search/shoal/broker"
)

func sampleResult(strip bool) *bleve.SearchResult {
	req := bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery("value"), 10, 0, false)
	res := &bleve.SearchResult{Status: &bleve.SearchStatus{Total: 1, Successful: 1}, Request: req, Total: 1199, MaxScore: 0.65}
	for i := 0; i < 10; i++ {
		res.Hits = append(res.Hits, &search.DocumentMatch{Index: "/tmp/TestDebugWire3012451874/001/s/searcher-3/bench.e43b84dbc34d7ae6/7", ID: fmt.Sprintf("go:debug/elf.DynFlag%d", i), Score: 0.5685193991752013, Sort: []string{"_score"}})
	}
	if strip {
		res.Request = nil
		for _, h := range res.Hits {
			h.Index = ""
		}
	}
	return res
}

type oneShot struct {
	Node       string              `json:"node"`
	AppliedSeq uint64              `json:"applied_seq"`
	Result     *bleve.SearchResult `json:"result"`
}

func encodeTwice(res *bleve.SearchResult) []byte {
	raw, _ := json.Marshal(res)
	b, _ := json.Marshal(broker.SearchResponse{Node: "searcher-3", AppliedSeq: 5206, Result: raw})
	return b
}

func BenchmarkShardReply(b *testing.B) {
	for _, strip := range []bool{false, true} {
		res := sampleResult(strip)
		b.Run(fmt.Sprintf("encode-twice/strip=%v", strip), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				encodeTwice(res)
			}
		})
		b.Run(fmt.Sprintf("encode-once/strip=%v", strip), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				json.Marshal(oneShot{Node: "searcher-3", AppliedSeq: 5206, Result: res})
			}
		})
		msg := encodeTwice(res)
		b.Logf("strip=%v: %d bytes", strip, len(msg))
		b.Run(fmt.Sprintf("decode-twice/strip=%v", strip), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var resp broker.SearchResponse
				json.Unmarshal(msg, &resp)
				var r bleve.SearchResult
				json.Unmarshal(resp.Result, &r)
			}
		})
		b.Run(fmt.Sprintf("decode-once/strip=%v", strip), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var resp oneShot
				json.Unmarshal(msg, &resp)
			}
		})
	}
}
