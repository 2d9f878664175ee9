package web_test

import (
	"bytes"
	"testing"

	"github.com/shoal-search/shoal/web"
)

// FuzzParseSearchBody checks that no search body makes ParseSearchBody
// panic, and that whatever it accepts has a query and a sane timeout.
// Under plain `go test` only the seed corpus runs; `make fuzz` explores.
func FuzzParseSearchBody(f *testing.F) {
	for _, seed := range []string{
		``,
		`{}`,
		`null`,
		`[]`,
		`"query"`,
		`{"query":null}`,
		`{"query":{"match_all":{}}}`,
		`{"query":{"query":"title:river"},"size":3,"from":2}`,
		`{"query":{"match":"river","field":"body"},"fields":["title"],"highlight":{"style":"html","fields":["body"]}}`,
		`{"query":{"match_all":{}},"facets":{"k":{"field":"kind","size":5}}}`,
		`{"query":{"match_all":{}},"facets":{"y":{"field":"year","size":5,"numeric_ranges":[{"name":"old","max":1950}]}}}`,
		`{"query":{"match_all":{}},"sort":["-year","_id"],"search_after":["a","b"]}`,
		`{"query":{"match_all":{}},"sort":[{"by":"field","field":"year","desc":true}]}`,
		`{"query":{"match_all":{}},"sort":[{"by":"nonsense"}]}`,
		`{"query":{"conjuncts":[{"term":"a","field":"f"},{"disjuncts":[{"prefix":"b"}]}]}}`,
		`{"query":{"regexp":"[","field":"title"}}`,
		`{"query":{"min":1,"max":0,"field":"year"}}`,
		`{"query":{"start":"2020-01-01","field":"d"}}`,
		`{"query":{"frobnicate":1}}`,
		`{"query":{"match_all":{}},"timeout":"300ms","allow_partial":false}`,
		`{"query":{"match_all":{}},"timeout":"-1s"}`,
		`{"query":{"match_all":{}},"timeout":5}`,
		`{"query":{"match_all":{}},"allow_partial":"no"}`,
		`{"query":{"match_all":{}},"profile":true}`,
		`{"query":{"match_all":{}},"profile":"yes"}`,
		`{"query":{"match_all":{}},"size":-5,"from":-1}`,
		`{"query":{"match_all":{}},"size":1e99}`,
		`{"query":{"match_all":{}}} trailing`,
		`{"query":{"bool":{"must":{"match_all":{}}}}}`,
		`{"query":{"must":{"conjuncts":[]},"should":{"disjuncts":[]},"must_not":{"disjuncts":[]}}}`,
		`{"query":{"match_phrase":"a b","field":"body"},"highlight":{}}`,
		`{"query":{"ids":["a","b"]}}`,
		`{"query":{"geo_distance":{},"distance":"1km","location":[0,0],"field":"g"}}`,
		`{"query":{"match_all":{}},"knn":[{"field":"v","vector":[1,2],"k":3}]}`,
		`{"query":{"match_all":{}},"min_coverage":87.5,"max_lag":10}`,
		`{"query":{"match_all":{}},"min_coverage":101}`,
		`{"query":{"match_all":{}},"min_coverage":"50"}`,
		`{"query":{"match_all":{}},"max_lag":-1}`,
		`{"query":{"match_all":{}},"after":"AQFhAQAB"}`,
		`{"query":{"match_all":{}},"after":"not a token"}`,
		`{"query":{"match_all":{}},"after":7}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, opts, err := web.ParseSearchBody(bytes.NewReader(body))
		if err != nil {
			if req != nil {
				t.Fatalf("error %v with a request", err)
			}
			return
		}
		if req == nil || req.Query == nil {
			t.Fatalf("accepted %q without a query", body)
		}
		if opts.Timeout < 0 || opts.MinCoverage < 0 || opts.MinCoverage > 100 {
			t.Fatalf("accepted %q with options %+v", body, opts)
		}
	})
}
