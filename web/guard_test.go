package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testwait"
)

// TestPublicSearch: with --public-search, anyone may search and get, and
// nothing else; anonymous requests are limited per client address.
func TestPublicSearch(t *testing.T) {
	c := testcluster.Start(t, 1, func(o *cluster.Options) {
		o.Frontend.Web.APIKey = masterKey
		o.Frontend.Web.PublicSearch = true
		o.Frontend.Web.RatePerAddress = 1000
	})
	master := caller{base: c.URL(), key: masterKey}
	master.want(t, http.StatusCreated, "PUT", "/v1/indexes/site", `{"shards":1}`)
	master.want(t, http.StatusOK, "PUT", "/v1/indexes/site/docs/d1?refresh=wait_for", `{"title":"river"}`)
	anon := caller{base: c.URL()}
	anon.want(t, http.StatusOK, "GET", "/v1/indexes", "")
	anon.want(t, http.StatusOK, "GET", "/v1/indexes/site", "")
	anon.want(t, http.StatusOK, "GET", "/v1/indexes/site/search?q=river", "")
	anon.want(t, http.StatusOK, "GET", "/v1/indexes/site/docs/d1", "")
	for _, r := range [][3]string{
		{"PUT", "/v1/indexes/site/docs/d2", `{"title":"x"}`},
		{"POST", "/v1/indexes/site/bulk", `{"id":"d3"}`},
		{"DELETE", "/v1/indexes/site", ""},
		{"GET", "/v1/cluster", ""},
		{"GET", "/v1/keys", ""},
	} {
		anon.want(t, http.StatusUnauthorized, r[0], r[1], r[2])
	}
	// A key without the search action still searches, as anyone may.
	writer := caller{base: c.URL(), key: newKey(t, master, `{"actions":["write"],"indexes":["site"]}`)}
	writer.want(t, http.StatusOK, "GET", "/v1/indexes/site/search?q=river", "")

	// Anonymous callers share their address's bucket; wrong keys too.
	slow := secondFrontend(t, c, func(o *cluster.FrontendOptions) {
		o.Web.APIKey, o.Web.PublicSearch, o.Web.RatePerAddress = masterKey, true, 2
	})
	for _, key := range []string{"", "shoal_0123456789abcdef_" + strings.Repeat("A", 43)} {
		cl := caller{base: slow.URL(), key: key}
		var last answer
		for i := 0; i < 10 && last.status != http.StatusTooManyRequests; i++ {
			last = cl.do(t, "GET", "/v1/indexes/site/search?q=river", "")
		}
		if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" {
			t.Fatalf("10 requests from one address at 2/s with key %.10q: last %s", key, last)
		}
		testwait.For(t, 5*time.Second, 100*time.Millisecond, func() error {
			if a := cl.do(t, "GET", "/v1/indexes", ""); a.status == http.StatusTooManyRequests {
				return fmt.Errorf("still limited: %s", a)
			}
			return nil
		})
	}
	// The master key is never limited.
	for i := 0; i < 10; i++ {
		caller{base: slow.URL(), key: masterKey}.want(t, http.StatusOK, "GET", "/v1/indexes/site/search?q=river", "")
	}
}

// TestWritesNeedJSON: on an open server (no key), a browser on another
// site can send a text/plain or form POST without a preflight; such
// bodies are refused, so the write cannot happen (CSRF).
func TestWritesNeedJSON(t *testing.T) {
	c := testcluster.Start(t, 1)
	cl := caller{base: c.URL()}
	cl.want(t, http.StatusCreated, "PUT", "/v1/indexes/csrf", `{"shards":1}`)
	doc := `{"id":"x","title":"forged"}`
	for _, r := range []struct{ method, path, ctype string }{
		{"POST", "/v1/indexes/csrf/bulk", "text/plain"},
		{"POST", "/v1/indexes/csrf/bulk", "text/plain; charset=utf-8"},
		{"POST", "/v1/indexes/csrf/bulk", "application/x-www-form-urlencoded"},
		{"POST", "/v1/indexes/csrf/bulk", "multipart/form-data; boundary=x"},
		{"POST", "/v1/indexes/csrf/bulk", ""},
		{"PUT", "/v1/indexes/csrf/docs/x", "text/plain"},
		{"PUT", "/v1/indexes/other", "text/plain"},
	} {
		if a := cl.send(t, r.method, r.path, r.ctype, doc); a.status != http.StatusUnsupportedMediaType || a.errType() != "unsupported_media_type" {
			t.Errorf("%s %s as %q: %s, want 415", r.method, r.path, r.ctype, a)
		}
	}
	if a := cl.do(t, "GET", "/v1/indexes/csrf", ""); !strings.Contains(string(a.body), `"docs":0`) {
		t.Fatalf("a refused write was written: %s", a)
	}
	for _, ct := range []string{"application/x-ndjson", "application/ndjson", "application/json; charset=utf-8"} {
		if a := cl.send(t, "POST", "/v1/indexes/csrf/bulk", ct, doc); a.status != http.StatusOK {
			t.Errorf("bulk as %q: %s", ct, a)
		}
	}
}

// TestSecurityHeaders: the page and the API answer with a content
// security policy, no sniffing and no framing.
func TestSecurityHeaders(t *testing.T) {
	c := testcluster.Start(t, 1)
	for _, path := range []string{"/", "/static/app.js", "/v1/indexes", "/healthz", "/v1/nothing"} {
		a := caller{base: c.URL()}.do(t, "GET", path, "")
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
		} {
			if got := a.header.Get(h); got != want {
				t.Errorf("GET %s: %s: %q, want %q", path, h, got, want)
			}
		}
		csp := a.header.Get("Content-Security-Policy")
		for _, part := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"} {
			if !strings.Contains(csp, part) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", path, csp, part)
			}
		}
		if strings.Contains(csp, "unsafe-") {
			t.Errorf("GET %s: Content-Security-Policy %q allows unsafe sources", path, csp)
		}
	}
}

// TestAdmission: with one search slot and no queue, a search that finds
// the slot taken is refused at once with 429; a search whose client goes
// away gives its slot back.
func TestAdmission(t *testing.T) {
	c := testcluster.Start(t, 1, func(o *cluster.Options) {
		o.Frontend.Web.MaxConcurrentSearches = 1
		o.Frontend.Web.SearchQueue = -1
		o.Frontend.Metrics = cluster.NewRegistry()
	})
	cl := caller{base: c.URL()}
	cl.want(t, http.StatusCreated, "PUT", "/v1/indexes/slow", `{"shards":1}`)
	cl.want(t, http.StatusOK, "PUT", "/v1/indexes/slow/docs/d1?refresh=wait_for", `{"title":"river"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	c.Searcher(0).Faults().SetSearchDelay(time.Minute)

	// The slow search holds the slot until its client gives up.
	gone, giveUp := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		req, _ := http.NewRequestWithContext(gone, "GET", c.URL()+"/v1/indexes/slow/search?q=river&timeout=50s", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("the slow search answered %d before its client went away", resp.StatusCode)
		}
	}()
	testwait.For(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := inFlight(t, cl); n != 1 {
			return fmt.Errorf("%v searches in flight", n)
		}
		return nil
	})
	a := cl.do(t, "GET", "/v1/indexes/slow/search?q=river", "")
	if a.status != http.StatusTooManyRequests || a.errType() != "overloaded" || a.header.Get("Retry-After") == "" {
		t.Fatalf("a search beyond the one slot: %s", a)
	}
	giveUp()
	wg.Wait()
	c.Searcher(0).Faults().SetSearchDelay(0)
	testwait.For(t, 5*time.Second, 10*time.Millisecond, func() error {
		if a := cl.do(t, "GET", "/v1/indexes/slow/search?q=river", ""); a.status != http.StatusOK {
			return fmt.Errorf("after the slow client went away: %s", a)
		}
		return nil
	})
}

// inFlight reads shoal_searches_in_flight from /metrics.
func inFlight(t testing.TB, cl caller) float64 {
	t.Helper()
	a := cl.want(t, http.StatusOK, "GET", "/metrics", "")
	for _, line := range strings.Split(string(a.body), "\n") {
		var v float64
		if _, err := fmt.Sscanf(line, "shoal_searches_in_flight %g", &v); err == nil {
			return v
		}
	}
	t.Fatalf("no shoal_searches_in_flight in /metrics")
	return 0
}

// TestQueryStringLimit: a query string past --max-query-string is refused
// before it is parsed, naming the limit, by GET and by POST.
func TestQueryStringLimit(t *testing.T) {
	c := testcluster.Start(t, 1, func(o *cluster.Options) {
		o.Frontend.Coordinator.MaxQueryString = 1000
		o.Frontend.Metrics = cluster.NewRegistry()
	})
	cl := caller{base: c.URL()}
	cl.want(t, http.StatusCreated, "PUT", "/v1/indexes/q", `{"shards":1}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a ", 501)
	body, _ := json.Marshal(map[string]any{"query": map[string]any{"conjuncts": []any{map[string]any{"query": long}}}})
	for _, a := range []answer{
		cl.do(t, "GET", "/v1/indexes/q/search?q="+url.QueryEscape(long), ""),
		cl.do(t, "POST", "/v1/indexes/q/search", string(body)),
	} {
		var e struct {
			Limit string
			Max   int
		}
		_ = json.Unmarshal(a.body, &e)
		if a.status != http.StatusBadRequest || a.errType() != "limit_exceeded" || e.Limit != "max_query_string" || e.Max != 1000 {
			t.Errorf("a query string of 1002 bytes: %s", a)
		}
	}
	if a := cl.do(t, "GET", "/v1/indexes/q/search?q="+url.QueryEscape(long[:998]), ""); a.status != http.StatusOK {
		t.Errorf("a query string of 998 bytes: %s", a)
	}
	m := cl.want(t, http.StatusOK, "GET", "/metrics", "")
	if !strings.Contains(string(m.body), `shoal_limit_rejections_total{limit="max_query_string"} 2`) {
		t.Errorf("/metrics does not count the two refusals:\n%s", m.body)
	}
}

// TestAnswerLimits: a search whose estimated memory is over
// --max-search-memory is refused before any shard is asked; one whose
// shard replies pass --max-answer-bytes is refused as they arrive. Both
// name their limit; smaller searches run.
func TestAnswerLimits(t *testing.T) {
	c := testcluster.Start(t, 2, func(o *cluster.Options) {
		o.Frontend.Coordinator.MaxSearchMemory = 1 << 20
		o.Frontend.Coordinator.MaxAnswerBytes = 20 << 10
	})
	cl := caller{base: c.URL()}
	cl.want(t, http.StatusCreated, "PUT", "/v1/indexes/big", `{"shards":2}`)
	var bulk strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&bulk, `{"id":"d%03d","body":"river %s"}`+"\n", i, strings.Repeat("water ", 50))
	}
	cl.want(t, http.StatusOK, "POST", "/v1/indexes/big/bulk?refresh=wait_for", bulk.String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, limit string
	}{
		// 200 hits of about 4 KiB (fields and highlight of 300-byte
		// documents), on each of two shards and merged: over 1 MiB.
		{"/v1/indexes/big/search?q=river&size=1000&highlight=true", "max_search_memory"},
		// 200 hits with their fields are about 70 KB of replies.
		{"/v1/indexes/big/search?q=river&size=200&fields=body", "max_answer_bytes"},
		{"/v1/indexes/big/search?q=river&size=10&fields=body", ""},
		{"/v1/indexes/big/search?q=river&size=1000&fields=id", ""},
	} {
		a := cl.do(t, "GET", tt.path, "")
		var e struct{ Limit string }
		_ = json.Unmarshal(a.body, &e)
		if tt.limit == "" && a.status != http.StatusOK || tt.limit != "" && (a.status != http.StatusBadRequest || e.Limit != tt.limit) {
			t.Errorf("GET %s: %s, want the limit %q", tt.path, a, tt.limit)
		}
	}
}
