package web_test

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/token"
)

// The checks of how complete and how fresh answers are, run by TestAPI on
// its cluster: read-your-writes tokens on every write and every read path
// that takes one, and min_coverage once a searcher is stopped.

// writeAnswer is a write's answer: its token, and the counts of a bulk.
type writeAnswer struct {
	ID      string `json:"id"`
	Result  string `json:"result"`
	Token   string `json:"token"`
	Indexed int    `json:"indexed"`
}

// parseToken decodes a write's token, failing the test if it is not one.
func parseToken(t *testing.T, s string) token.Token {
	t.Helper()
	if s == "" || url.QueryEscape(s) != s {
		t.Fatalf("token %q is empty or not URL-safe", s)
	}
	tok, err := token.Parse(s)
	if err != nil {
		t.Fatalf("token %q: %v", s, err)
	}
	return tok
}

// checkTokens writes to scratch without refresh and reads each write back
// at once with its token: by search (GET and POST) and by id. A token
// handed to the next write comes back merged; a bad token, or one of
// another index, is refused.
func checkTokens(t *testing.T, a *httpAPI) {
	var w1, w2, del, bulk writeAnswer
	a.json(t, "PUT", "/v1/indexes/scratch/docs/fresh1", `{"title":"zqxfreshone"}`, http.StatusOK, &w1)
	t1 := parseToken(t, w1.Token)
	s1 := meta.ShardOf("fresh1", 4)
	if len(t1.Seqs) != 1 || t1.Seqs[s1] == 0 {
		t.Fatalf("token of one write to shard %d: %+v", s1, t1)
	}
	if ids := searchIDsAfter(t, a, "zqxfreshone", w1.Token); len(ids) != 1 || ids[0] != "fresh1" {
		t.Errorf("search with the write's token finds %v, want [fresh1]", ids)
	}
	a.json(t, "GET", "/v1/indexes/scratch/docs/fresh1?after="+w1.Token, "", http.StatusOK, nil)

	// The next write hands the token on: its answer covers both writes.
	id2 := otherShardID(t, s1)
	a.json(t, "PUT", "/v1/indexes/scratch/docs/"+id2+"?after="+w1.Token, `{"title":"zqxfreshtwo"}`, http.StatusOK, &w2)
	t2 := parseToken(t, w2.Token)
	s2 := meta.ShardOf(id2, 4)
	if t2.UID != t1.UID || t2.Seqs[s1] != t1.Seqs[s1] || t2.Seqs[s2] <= t1.Seqs[s1] {
		t.Errorf("merged token %+v does not cover %+v and the write to shard %d", t2, t1, s2)
	}
	var sr searchResponse
	a.json(t, "POST", "/v1/indexes/scratch/search",
		fmt.Sprintf(`{"query":{"query":"zqxfreshone zqxfreshtwo"},"after":%q}`, w2.Token), http.StatusOK, &sr)
	if got := sortedHitIDs(&sr); len(got) != 2 {
		t.Errorf("POST search with the merged token finds %v, want both writes", got)
	}

	a.json(t, "DELETE", "/v1/indexes/scratch/docs/fresh1?after="+w2.Token, "", http.StatusOK, &del)
	if td := parseToken(t, del.Token); td.Seqs[s1] <= t2.Seqs[s1] || td.Seqs[s2] != t2.Seqs[s2] {
		t.Errorf("delete's token %+v, want shard %d past %+v", td, s1, t2)
	}
	if ids := searchIDsAfter(t, a, "zqxfreshone", del.Token); len(ids) != 0 {
		t.Errorf("search with the delete's token still finds %v", ids)
	}
	a.json(t, "POST", "/v1/indexes/scratch/bulk", ndjson(t, `{"id":"b1","title":"x"}`, `{"id":"b2","title":"y"}`), http.StatusOK, &bulk)
	if tb := parseToken(t, bulk.Token); len(tb.Seqs) != 2 && meta.ShardOf("b1", 4) != meta.ShardOf("b2", 4) {
		t.Errorf("bulk token %+v, want both shards written", tb)
	}

	checkBadTokens(t, a, t1)
}

// checkBadTokens: a token that is not one is a 400 naming "after"; one of
// another index, or naming a shard the index lacks, is refused.
func checkBadTokens(t *testing.T, a *httpAPI, scratch token.Token) {
	var other writeAnswer
	a.json(t, "PUT", "/v1/indexes/foreign", `{"shards":1}`, http.StatusCreated, nil)
	defer a.json(t, "DELETE", "/v1/indexes/foreign", "", http.StatusOK, nil)
	a.json(t, "PUT", "/v1/indexes/foreign/docs/f", `{"title":"elsewhere"}`, http.StatusOK, &other)
	foreign := other.Token // of another index
	beyond := token.Token{UID: scratch.UID, Seqs: map[int]uint64{9: 1}}.String()
	tests := []struct {
		name, method, path, body string
		status                   int
		kind                     string
	}{
		{"search bad token", "GET", "/v1/indexes/scratch/search?q=x&after=%25%25", "", 400, "invalid_parameter"},
		{"search POST bad token", "POST", "/v1/indexes/scratch/search", `{"query":{"query":"x"},"after":"!!"}`, 400, "invalid_body"},
		{"get bad token", "GET", "/v1/indexes/scratch/docs/b1?after=AAAA", "", 400, "invalid_parameter"},
		{"put bad token", "PUT", "/v1/indexes/scratch/docs/b1?after=AAAA", `{}`, 400, "invalid_parameter"},
		{"search token of another index", "GET", "/v1/indexes/scratch/search?q=x&after=" + foreign, "", 409, "index_replaced"},
		{"get token of another index", "GET", "/v1/indexes/scratch/docs/b1?after=" + foreign, "", 409, "index_replaced"},
		{"bulk token of another index", "POST", "/v1/indexes/scratch/bulk?after=" + foreign, `{"id":"z"}` + "\n", 409, "index_replaced"},
		{"delete token of another index", "DELETE", "/v1/indexes/scratch/docs/b1?after=" + foreign, "", 409, "index_replaced"},
		{"tokens of two indexes", "GET", "/v1/indexes/scratch/search?q=x&after=" + foreign + "&after=" + scratch.String(), "", 400, "invalid_parameter"},
		{"token naming a shard beyond", "GET", "/v1/indexes/scratch/search?q=x&after=" + beyond, "", 400, "invalid_request"},
		{"min_coverage above 100", "GET", "/v1/indexes/scratch/search?q=x&min_coverage=100.5", "", 400, "invalid_parameter"},
		{"min_coverage negative", "GET", "/v1/indexes/scratch/search?q=x&min_coverage=-1", "", 400, "invalid_parameter"},
		{"min_coverage not a number", "GET", "/v1/indexes/scratch/search?q=x&min_coverage=most", "", 400, "invalid_parameter"},
		{"min_coverage POST above 100", "POST", "/v1/indexes/scratch/search", `{"query":{"query":"x"},"min_coverage":101}`, 400, "invalid_body"},
		{"max_lag negative", "GET", "/v1/indexes/scratch/search?q=x&max_lag=-1", "", 400, "invalid_parameter"},
		{"max_lag POST fraction", "POST", "/v1/indexes/scratch/search", `{"query":{"query":"x"},"max_lag":1.5}`, 400, "invalid_body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := a.do(t, tt.method, tt.path, tt.body)
			if status != tt.status || !strings.Contains(string(raw), `"type":"`+tt.kind+`"`) {
				t.Errorf("%d %s, want %d %s", status, raw, tt.status, tt.kind)
			}
		})
	}
}

// searchIDsAfter searches scratch for q with the token after.
func searchIDsAfter(t *testing.T, a *httpAPI, q, after string) []string {
	t.Helper()
	var sr searchResponse
	a.json(t, "GET", "/v1/indexes/scratch/search?q="+url.QueryEscape(q)+"&after="+after, "", http.StatusOK, &sr)
	if sr.Partial {
		t.Errorf("search with a token is partial: %+v", sr.Shards)
	}
	return sortedHitIDs(&sr)
}

// otherShardID is a document id of a shard of scratch other than shard.
func otherShardID(t *testing.T, shard int) string {
	t.Helper()
	for i := range 100 {
		if id := fmt.Sprintf("fresh2-%d", i); meta.ShardOf(id, 4) != shard {
			return id
		}
	}
	t.Fatal("no id of another shard")
	return ""
}

// checkMinCoverage searches books with shard lost gone: the coverage is
// the other shards' share of the documents; min_coverage above it is a 503
// carrying it, below it a partial answer.
func checkMinCoverage(t *testing.T, a *httpAPI, info indexInfo, lost int) {
	var total, kept uint64
	for _, st := range info.ShardStats {
		total += st.Docs
		if st.Shard != lost {
			kept += st.Docs
		}
	}
	want := 100 * float64(kept) / float64(total)
	var sr searchResponse
	a.json(t, "GET", "/v1/indexes/books/search?q=river", "", http.StatusOK, &sr)
	cov := sr.Coverage
	if cov.Docs != kept || cov.Total != total || math.Abs(cov.Percent-want) > 0.01 {
		t.Fatalf("coverage %+v, want %d of %d docs (%.2f%%)", cov, kept, total, want)
	}
	if len(sr.Shards.Failures) != 1 || sr.Shards.Failures[0].State != "unavailable" {
		t.Errorf("account %+v: want shard %d unavailable", sr.Shards, lost)
	}
	above, below := math.Ceil(cov.Percent)+0.5, math.Floor(cov.Percent)-0.5
	for _, tt := range []struct {
		method, path, body string
		min                float64
		status             int
	}{
		{"GET", fmt.Sprintf("/v1/indexes/books/search?q=river&min_coverage=%v", above), "", above, http.StatusServiceUnavailable},
		{"GET", fmt.Sprintf("/v1/indexes/books/search?q=river&min_coverage=%v", below), "", below, http.StatusOK},
		{"POST", "/v1/indexes/books/search", fmt.Sprintf(`{"query":{"query":"river"},"min_coverage":%v}`, above), above, http.StatusServiceUnavailable},
		{"POST", "/v1/indexes/books/search", fmt.Sprintf(`{"query":{"query":"river"},"min_coverage":%v}`, below), below, http.StatusOK},
		{"GET", "/v1/indexes/books/search?q=river&min_coverage=100", "", 100, http.StatusServiceUnavailable},
	} {
		var got searchResponse
		raw := a.json(t, tt.method, tt.path, tt.body, tt.status, &got)
		if got.Coverage != cov || got.Shards.Failed != 1 {
			t.Errorf("min_coverage %v: %s, want coverage %+v and the account", tt.min, raw, cov)
		}
		if tt.status == http.StatusOK && !got.Partial {
			t.Errorf("min_coverage %v: %s, want a partial answer", tt.min, raw)
		}
	}
}
