package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/client"
)

// recorded is what the fake server saw of one request.
type recorded struct {
	Method, Path, RawPath, Query, Auth, ContentType string
	Body                                            string
}

// fakeServer answers every request with status and body and records it.
func fakeServer(t *testing.T, status int, body string) (*httptest.Server, *recorded) {
	t.Helper()
	rec := &recorded{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*rec = recorded{
			Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: string(b),
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		status   int
		respond  string
		call     func(c *client.Client) (any, error)
		want     recorded
		wantBody string // JSON compared semantically; empty means no body
		wantOut  any
	}{
		{
			name: "create index", status: 201, respond: `{"acknowledged":true}`,
			call: func(c *client.Client) (any, error) {
				return nil, c.CreateIndex(ctx, "books", client.IndexSettings{
					Shards: 8, Replicas: 2, Mapping: json.RawMessage(`{"default_analyzer":"en"}`),
					Facets: map[string]client.FacetDef{"genre": {Field: "genre", Size: 10}},
				})
			},
			want:     recorded{Method: "PUT", Path: "/v1/indexes/books", ContentType: "application/json"},
			wantBody: `{"shards":8,"replicas":2,"mapping":{"default_analyzer":"en"},"facets":{"genre":{"field":"genre","size":10}}}`,
		},
		{
			name: "create index minimal", status: 201, respond: `{}`,
			call: func(c *client.Client) (any, error) {
				return nil, c.CreateIndex(ctx, "b", client.IndexSettings{Shards: 1})
			},
			want:     recorded{Method: "PUT", Path: "/v1/indexes/b", ContentType: "application/json"},
			wantBody: `{"shards":1}`,
		},
		{
			name: "get index", status: 200,
			respond: `{"name":"books","shards":2,"replicas":1,"docs":10,"created":"2025-01-02T03:04:05Z","facets":{"g":{"field":"genre","size":5}},
				"shard_stats":[{"shard":0,"node":"a","docs":4,"applied_seq":7,"caught_up":true,"live":true},{"shard":1,"node":"b","docs":6,"applied_seq":9,"pending":2}]}`,
			call: func(c *client.Client) (any, error) { return c.GetIndex(ctx, "books") },
			want: recorded{Method: "GET", Path: "/v1/indexes/books"},
			wantOut: &client.IndexInfo{
				Name: "books", Shards: 2, Replicas: 1, Docs: 10, Created: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
				Facets: map[string]client.FacetDef{"g": {Field: "genre", Size: 5}},
				ShardStats: []client.ShardStat{
					{Shard: 0, Node: "a", Docs: 4, AppliedSeq: 7, CaughtUp: true, Live: true},
					{Shard: 1, Node: "b", Docs: 6, AppliedSeq: 9, Pending: 2},
				},
			},
		},
		{
			name: "list indexes", status: 200, respond: `{"indexes":[{"name":"a","shards":1,"docs":3},{"name":"b","shards":4,"docs":0}]}`,
			call:    func(c *client.Client) (any, error) { return c.ListIndexes(ctx) },
			want:    recorded{Method: "GET", Path: "/v1/indexes"},
			wantOut: []client.IndexInfo{{Name: "a", Shards: 1, Docs: 3}, {Name: "b", Shards: 4}},
		},
		{
			name: "delete index", status: 200, respond: `{}`,
			call: func(c *client.Client) (any, error) { return nil, c.DeleteIndex(ctx, "books") },
			want: recorded{Method: "DELETE", Path: "/v1/indexes/books"},
		},
		{
			name: "bulk", status: 200,
			respond: `{"indexed":1,"deleted":1,"failed":2,"errors":[{"line":2,"id":"b","error":"bad json"},{"line":3,"id":"c","error":"not stored","retryable":true}]}`,
			call: func(c *client.Client) (any, error) {
				return c.Bulk(ctx, "books", []byte("{\"id\":\"a\"}\n{\"id\":\"b\"\n{\"id\":\"c\",\"_delete\":true}\n"), false)
			},
			want: recorded{Method: "POST", Path: "/v1/indexes/books/bulk", ContentType: "application/x-ndjson",
				Body: "{\"id\":\"a\"}\n{\"id\":\"b\"\n{\"id\":\"c\",\"_delete\":true}\n"},
			wantOut: &client.BulkResult{Indexed: 1, Deleted: 1, Failed: 2,
				Errors: []client.BulkError{{Line: 2, ID: "b", Error: "bad json"}, {Line: 3, ID: "c", Error: "not stored", Retryable: true}}},
		},
		{
			name: "bulk refresh", status: 200, respond: `{"indexed":0,"deleted":0,"failed":0,"refreshed":true}`,
			call: func(c *client.Client) (any, error) { return c.Bulk(ctx, "books", []byte("\n"), true) },
			want: recorded{Method: "POST", Path: "/v1/indexes/books/bulk", Query: "refresh=wait_for",
				ContentType: "application/x-ndjson", Body: "\n"},
			wantOut: &client.BulkResult{Refreshed: new(true)},
		},
		{
			name: "put doc struct", status: 200, respond: `{"id":"a/b c","result":"indexed","token":"AQh0b2tlbg","refreshed":true}`,
			call: func(c *client.Client) (any, error) {
				return c.PutDoc(ctx, "books", "a/b c", map[string]string{"title": "x"}, true)
			},
			wantOut: &client.WriteResult{ID: "a/b c", Result: "indexed", Token: "AQh0b2tlbg", Refreshed: new(true)},
			want: recorded{Method: "PUT", Path: "/v1/indexes/books/docs/a/b c", RawPath: "/v1/indexes/books/docs/a%2Fb%20c",
				Query: "refresh=wait_for", ContentType: "application/json"},
			wantBody: `{"title":"x"}`,
		},
		{
			name: "put doc raw", status: 201, respond: `{"id":"1","result":"indexed","token":"t"}`,
			call: func(c *client.Client) (any, error) {
				return c.PutDoc(ctx, "books", "1", json.RawMessage(`{"title":"y"}`), false)
			},
			wantOut:  &client.WriteResult{ID: "1", Result: "indexed", Token: "t"},
			want:     recorded{Method: "PUT", Path: "/v1/indexes/books/docs/1", ContentType: "application/json"},
			wantBody: `{"title":"y"}`,
		},
		{
			name: "get doc", status: 200, respond: `{"id":"1","title":"y"}`,
			call:    func(c *client.Client) (any, error) { return c.GetDoc(ctx, "books", "1") },
			want:    recorded{Method: "GET", Path: "/v1/indexes/books/docs/1"},
			wantOut: json.RawMessage(`{"id":"1","title":"y"}`),
		},
		{
			name: "delete doc", status: 200, respond: `{"id":"1","result":"deleted","token":"t2"}`,
			call:    func(c *client.Client) (any, error) { return c.DeleteDoc(ctx, "books", "1", true) },
			wantOut: &client.WriteResult{ID: "1", Result: "deleted", Token: "t2"},
			want:    recorded{Method: "DELETE", Path: "/v1/indexes/books/docs/1", Query: "refresh=wait_for"},
		},
		{
			name: "search query", status: 200, respond: `{"hits":[],"total_hits":0,"max_score":0,"took_ms":1,"shards":{"total":1,"successful":1,"failed":0},"partial":false,"timed_out":false}`,
			call: func(c *client.Client) (any, error) {
				r, err := c.SearchQuery(ctx, "books", "title:whale +ahab", 5, 10)
				if r != nil {
					r.Raw = nil
				}
				return r, err
			},
			want: recorded{Method: "GET", Path: "/v1/indexes/books/search", Query: "from=10&q=title%3Awhale+%2Bahab&size=5"},
			wantOut: &client.SearchResponse{Hits: []client.Hit{}, TookMS: 1,
				Shards: client.ShardsInfo{Total: 1, Successful: 1}},
		},
		{
			name: "search query defaults", status: 200, respond: `{"hits":null}`,
			call: func(c *client.Client) (any, error) {
				r, err := c.SearchQuery(ctx, "books", "whale", 0, 0)
				if r != nil {
					r.Raw = nil
				}
				return r, err
			},
			want:    recorded{Method: "GET", Path: "/v1/indexes/books/search", Query: "q=whale"},
			wantOut: &client.SearchResponse{},
		},
		{
			name: "search struct", status: 200, respond: `{"hits":[{"id":"1","score":1.5,"sort":["_score"],"fields":{"title":"Moby"},"fragments":{"body":["a <mark>whale</mark>"]}}],
				"total_hits":3,"max_score":1.5,"took_ms":2.5,
				"facets":{"genre":{"field":"genre","total":3,"missing":1,"other":0,"terms":[{"term":"sea","count":2}]}},
				"shards":{"total":4,"successful":3,"failed":1,"failures":[{"shard":2,"node":"c","reason":"no responders"}]},
				"partial":true,"timed_out":true}`,
			call: func(c *client.Client) (any, error) {
				r, err := c.Search(ctx, "books", &client.SearchRequest{
					Query: client.QueryString("whale"), Size: new(0), From: 3, Sort: []any{"-_score", "title"},
					SearchAfter: []string{"1", "a"}, Fields: []string{"title"},
					Facets:    map[string]client.FacetRequest{"genre": {Field: "genre", Size: 5}},
					Highlight: &client.HighlightRequest{Style: "html"}, Timeout: "500ms", AllowPartial: new(false),
				})
				if r != nil {
					r.Raw = nil
				}
				return r, err
			},
			want: recorded{Method: "POST", Path: "/v1/indexes/books/search", ContentType: "application/json"},
			wantBody: `{"query":{"query":"whale"},"size":0,"from":3,"sort":["-_score","title"],"search_after":["1","a"],
				"fields":["title"],"facets":{"genre":{"field":"genre","size":5}},"highlight":{"style":"html"},
				"timeout":"500ms","allow_partial":false}`,
			wantOut: &client.SearchResponse{
				Hits: []client.Hit{{ID: "1", Score: 1.5, Sort: []string{"_score"}, Fields: map[string]any{"title": "Moby"},
					Fragments: map[string][]string{"body": {"a <mark>whale</mark>"}}}},
				TotalHits: 3, MaxScore: 1.5, TookMS: 2.5,
				Facets: map[string]client.FacetResult{"genre": {Field: "genre", Total: 3, Missing: 1,
					Terms: []client.TermCount{{Term: "sea", Count: 2}}}},
				Shards: client.ShardsInfo{Total: 4, Successful: 3, Failed: 1,
					Failures: []client.ShardFailure{{Shard: 2, Node: "c", Reason: "no responders"}}},
				Partial: true, TimedOut: true,
			},
		},
		{
			name: "search raw", status: 200, respond: `{"hits":[]}`,
			call: func(c *client.Client) (any, error) {
				r, err := c.SearchJSON(ctx, "books", json.RawMessage(`{"query":{"match_all":{}},"size":1}`))
				if r != nil {
					r.Raw = nil
				}
				return r, err
			},
			want:     recorded{Method: "POST", Path: "/v1/indexes/books/search", ContentType: "application/json"},
			wantBody: `{"query":{"match_all":{}},"size":1}`,
			wantOut:  &client.SearchResponse{Hits: []client.Hit{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := fakeServer(t, tt.status, tt.respond)
			c := client.New(srv.URL+"/", client.WithAPIKey("s3cret"))
			out, err := tt.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			got := *rec
			if tt.want.RawPath == "" {
				tt.want.RawPath = tt.want.Path
			}
			tt.want.Auth = "Bearer s3cret"
			if tt.wantBody != "" {
				assertJSONEqual(t, got.Body, tt.wantBody)
				got.Body = ""
			}
			if got != tt.want {
				t.Errorf("request\n got %+v\nwant %+v", got, tt.want)
			}
			if tt.wantOut != nil && !reflect.DeepEqual(out, tt.wantOut) {
				t.Errorf("result\n got %#v\nwant %#v", out, tt.wantOut)
			}
		})
	}
}

func TestSearchKeepsRawResponse(t *testing.T) {
	const body = `{"hits":[],"total_hits":0,"extra":{"x":1}}`
	srv, _ := fakeServer(t, 200, body)
	res, err := client.New(srv.URL).SearchQuery(context.Background(), "i", "q", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Raw) != body {
		t.Errorf("Raw = %s, want %s", res.Raw, body)
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		body        string
		wantType    string
		wantReason  string
		unavailable bool
		is          error
	}{
		{"conflict", 409, `{"error":{"type":"index_exists","reason":"index \"b\" exists"}}`, "index_exists", `index "b" exists`, false, client.ErrExists},
		{"not found", 404, `{"error":{"type":"index_not_found","reason":"no index b"}}`, "index_not_found", "no index b", false, client.ErrNotFound},
		{"bad request", 400, `{"error":{"type":"parse_error","reason":"bad query"}}`, "parse_error", "bad query", false, nil},
		{"too large", 413, `{"error":{"type":"too_large","reason":"body over 10MB"}}`, "too_large", "body over 10MB", false, nil},
		{"bad gateway html", 502, `<html>Bad Gateway</html>`, "", "<html>Bad Gateway</html>", true, client.ErrUnavailable},
		{"unavailable", 503, `{"error":{"type":"unavailable","reason":"shards missing"},"shards":{"total":2}}`, "unavailable", "shards missing", true, client.ErrUnavailable},
		{"gateway timeout empty", 504, ``, "", "", true, client.ErrUnavailable},
		{"string error", 401, `{"error":"missing api key"}`, "", "missing api key", false, nil},
		{"internal", 500, `oops`, "", "oops", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeServer(t, tt.status, tt.body)
			_, err := client.New(srv.URL).GetIndex(context.Background(), "b")
			var ae *client.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not an *APIError", err, err)
			}
			if ae.Status != tt.status || ae.Type != tt.wantType || ae.Reason != tt.wantReason {
				t.Errorf("got status %d type %q reason %q, want %d %q %q", ae.Status, ae.Type, ae.Reason, tt.status, tt.wantType, tt.wantReason)
			}
			if string(ae.Body) != tt.body {
				t.Errorf("Body = %q, want %q", ae.Body, tt.body)
			}
			if got := client.IsUnavailable(err); got != tt.unavailable {
				t.Errorf("IsUnavailable = %v, want %v", got, tt.unavailable)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			for _, other := range []error{client.ErrExists, client.ErrNotFound, client.ErrUnavailable} {
				if other != tt.is && errors.Is(err, other) {
					t.Errorf("errors.Is(%v, %v) = true", err, other)
				}
			}
			if !strings.Contains(err.Error(), "/v1/indexes/b") {
				t.Errorf("error %q does not name the URL", err)
			}
		})
	}
}

func TestConnectionErrors(t *testing.T) {
	// A listener that is closed at once: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()

	// A server that hangs up without answering.
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer hangup.Close()

	// A server slower than the caller's deadline.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)

	tests := []struct {
		name        string
		url         string
		timeout     time.Duration
		unavailable bool
		ctxErr      error
	}{
		{"refused", refused, 0, true, nil},
		{"hang up", hangup.URL, 0, true, nil},
		{"context deadline", slow.URL, 50 * time.Millisecond, false, context.DeadlineExceeded},
		{"bad url", "ftp://x", 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, err := client.New(tt.url).Bulk(ctx, "i", []byte("{}\n"), false)
			if err == nil {
				t.Fatal("no error")
			}
			if got := client.IsUnavailable(err); got != tt.unavailable {
				t.Errorf("IsUnavailable(%v) = %v, want %v", err, got, tt.unavailable)
			}
			if tt.ctxErr != nil && !errors.Is(err, tt.ctxErr) {
				t.Errorf("error %v does not wrap %v", err, tt.ctxErr)
			}
			var ce *client.ConnError
			if tt.unavailable && !errors.As(err, &ce) {
				t.Errorf("error %v (%T) is not a *ConnError", err, err)
			}
		})
	}
}

func TestIsUnavailableOther(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("x"), false},
		{context.Canceled, false},
		{&client.APIError{Status: 503}, true},
		{&client.APIError{Status: 500}, false},
		{&client.ConnError{Err: errors.New("reset")}, true},
		{fmt.Errorf("gave up: %w", client.ErrUnavailable), true},
	}
	for _, tt := range tests {
		if got := client.IsUnavailable(tt.err); got != tt.want {
			t.Errorf("IsUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestNoAuthHeaderWithoutKey(t *testing.T) {
	srv, rec := fakeServer(t, 200, `{"indexes":[]}`)
	if _, err := client.New(srv.URL).ListIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec.Auth != "" {
		t.Errorf("Authorization = %q, want none", rec.Auth)
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"https://search.example.com/shoal/", "https://search.example.com/shoal"},
	}
	for _, tt := range tests {
		if got := client.New(tt.in).BaseURL(); got != tt.want {
			t.Errorf("New(%q).BaseURL() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPathPrefix(t *testing.T) {
	srv, rec := fakeServer(t, 200, `{"indexes":[]}`)
	if _, err := client.New(srv.URL + "/shoal/").ListIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec.Path != "/shoal/v1/indexes" {
		t.Errorf("path = %q", rec.Path)
	}
}

func TestMalformedResponse(t *testing.T) {
	srv, _ := fakeServer(t, 200, `not json`)
	c := client.New(srv.URL)
	if _, err := c.GetIndex(context.Background(), "x"); err == nil || client.IsUnavailable(err) {
		t.Errorf("GetIndex err = %v, want a non-retryable decode error", err)
	}
	if _, err := c.SearchQuery(context.Background(), "x", "q", 0, 0); err == nil || client.IsUnavailable(err) {
		t.Errorf("SearchQuery err = %v, want a non-retryable decode error", err)
	}
}

func assertJSONEqual(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q is not JSON: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}
