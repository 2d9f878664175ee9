package web

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-search/shoal/apikeys"
	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/rewrite"
)

// updating reports whether the test binary runs with -update (the flag is
// declared by the external tests, which share the binary).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// goldenRaw compares an HTTP answer byte for byte to
// testdata/golden/errors/NAME.txt: the status line, then the body as sent.
// The error envelope is a contract, so nothing is normalised.
func goldenRaw(t *testing.T, name string, status int, body []byte) {
	t.Helper()
	got := []byte(fmt.Sprintf("HTTP %d\n%s\n", status, body))
	path := filepath.Join("testdata", "golden", "errors", name+".txt")
	if updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test ./web -run TestErrorEnvelope -update to create it)", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("answer differs from %s (run with -update if the change is intended)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// quietOptions are server options for envelope tests: a small body limit,
// an API key and no log output.
func quietOptions() Options {
	return Options{
		MaxBodyBytes: 64,
		APIKey:       "secret",
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// TestRouteErrorEnvelopes sends requests that fail before any lower layer
// is asked (so the server needs no cluster) and checks each answer byte for
// byte.
func TestRouteErrorEnvelopes(t *testing.T) {
	h := New(nil, nil, nil, quietOptions())
	const auth = "Bearer secret"
	tests := []struct {
		name, method, path, auth, body string
	}{
		{"route_not_found", "GET", "/v1/nothing-here", "", ""},
		{"route_method_not_allowed", "PATCH", "/v1/indexes/books", "", ""},
		{"route_unauthorized", "DELETE", "/v1/indexes/books", "", ""},
		{"route_unauthorized_wrong_key", "PUT", "/v1/indexes/books", "Bearer nope", `{}`},
		{"route_unauthorized_not_bearer", "GET", "/v1/indexes", "Basic c2VjcmV0", ""},
		{"route_unauthorized_search", "GET", "/v1/indexes/books/search?q=x", "", ""},
		{"route_keys_need_master", "GET", "/v1/keys", "", ""},
		{"route_no_key_store", "GET", "/v1/keys", auth, ""},
		{"route_unsupported_media_type", "PUT", "/v1/indexes/books", auth, "{}"},
		{"route_invalid_index_name", "PUT", "/v1/indexes/Bad.Name", auth, `{}`},
		{"route_create_invalid_body", "PUT", "/v1/indexes/books", auth, `{"shards":`},
		{"route_create_unknown_field", "PUT", "/v1/indexes/books", auth, `{"colour":"red"}`},
		{"route_create_trailing_data", "PUT", "/v1/indexes/books", auth, `{} {}`},
		{"route_create_body_too_large", "PUT", "/v1/indexes/books", auth, `{"mapping":{"x":"` + strings.Repeat("x", 100) + `"}}`},
		{"route_invalid_settings", "PUT", "/v1/indexes/books", auth, `{"shards":0}`},
		{"route_invalid_facet", "PUT", "/v1/indexes/books", auth, `{"facets":{"k":{"size":3}}}`},
		{"route_invalid_mapping", "PUT", "/v1/indexes/books", auth, `{"mapping":{"default_analyzer":"nope"}}`},
		{"route_search_no_q", "GET", "/v1/indexes/books/search", auth, ""},
		{"route_search_bad_size", "GET", "/v1/indexes/books/search?q=x&size=ten&from=-1", auth, ""},
		{"route_search_bad_timeout", "GET", "/v1/indexes/books/search?q=x&timeout=soon", auth, ""},
		{"route_search_bad_allow_partial", "GET", "/v1/indexes/books/search?q=x&allow_partial=maybe", auth, ""},
		{"route_search_post_invalid_body", "POST", "/v1/indexes/books/search", auth, `{"query":`},
		{"route_search_post_no_query", "POST", "/v1/indexes/books/search", auth, `{"size":3}`},
		{"route_search_post_bad_timeout", "POST", "/v1/indexes/books/search", auth, `{"query":{"match_all":{}},"timeout":"<soon>"}`},
		{"route_search_post_body_too_large", "POST", "/v1/indexes/books/search", auth, `{"query":{"query":"` + strings.Repeat("x", 100) + `"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req := httptest.NewRequest(tt.method, tt.path, body)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.body != "" && tt.name != "route_unsupported_media_type" {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			goldenRaw(t, tt.name, rec.Code, rec.Body.Bytes())
		})
	}
}

// mappedErrors are errors of the layers below, one per kind they map to.
var mappedErrors = []struct {
	name string
	err  error
}{
	{"body_too_large", fmt.Errorf("bulk: %w", &http.MaxBytesError{Limit: 16384})},
	{"index_not_found", fmt.Errorf("%w: %s", catalog.ErrIndexNotFound, "nope")},
	{"index_exists", fmt.Errorf("%w: %s", catalog.ErrIndexExists, "books")},
	{"document_not_found", fmt.Errorf("get r9: %w", coordinator.ErrDocNotFound)},
	{"invalid_request", &coordinator.RequestError{Type: "invalid_request", Err: errors.New("from + size must not exceed 10000 (use search_after to page deeper)")}},
	{"query_parse_error", &coordinator.RequestError{Type: "query_parse_error", Err: errors.New(`parse error: unterminated quote in "<b>"`)}},
	{"search_error", fmt.Errorf("search: %w", &coordinator.RequestError{Type: "search_error", Err: errors.New("bad sort")})},
	{"shards_unavailable", &coordinator.UnavailableError{
		Shards: coordinator.ShardsAccount{Total: 4, Successful: 3, Failed: 1, Failures: []coordinator.ShardFailure{
			{Shard: 2, State: coordinator.StateTimedOut, Node: "searcher-1", Copy: "searcher-1", Reason: coordinator.ReasonTimeout},
		}},
		TimedOut:    true,
		Coverage:    coordinator.Coverage{Docs: 750, Total: 1000, Percent: 75},
		MinCoverage: 100,
	}},
	{"shards_unavailable_min_coverage", &coordinator.UnavailableError{
		Shards: coordinator.ShardsAccount{Total: 8, Successful: 6, Failed: 2, Failures: []coordinator.ShardFailure{
			{Shard: 1, State: coordinator.StateUnavailable, Node: "s2", Copy: "s2", Reason: coordinator.ReasonNoResponders},
			{Shard: 5, State: coordinator.StateBehind, Node: "s3", Copy: "s3", Reason: "copy on s3 has applied sequence 41, not yet 57"},
		}},
		Coverage:    coordinator.Coverage{Docs: 8712, Total: 10000, Percent: 87.12},
		MinCoverage: 90,
	}},
	{"shards_unavailable_not_placed", &coordinator.UnavailableError{
		Shards: coordinator.ShardsAccount{Total: 1, Failed: 1, Failures: []coordinator.ShardFailure{
			{Shard: 0, State: coordinator.StateUnavailable, Reason: coordinator.ReasonNotPlaced},
		}},
	}},
	{"timeout", fmt.Errorf("wait: %w", context.DeadlineExceeded)},
	{"client_closed_request", fmt.Errorf("search: %w", context.Canceled)},
	{"limit_exceeded", fmt.Errorf("search: %w", &rewrite.LimitError{Limit: "max_clauses", Max: 1024, Detail: "the query has too many clauses"})},
	{"limit_exceeded_in_request_error", &coordinator.RequestError{Type: "query_parse_error", Err: &rewrite.LimitError{Limit: coordinator.LimitQueryString, Max: 8192, Detail: "a query string of 100000 bytes is too long"}}},
	{"invalid_key", fmt.Errorf("%w: unknown action \"read\"", meta.ErrInvalidKey)},
	{"key_not_found", fmt.Errorf("%w: 0123456789abcdef", apikeys.ErrKeyNotFound)},
	{"internal_error", errors.New("boom <&> \u2028")},
}

// answeredErrors are errors the handlers raise themselves, one per kind
// whose reason is their own.
var answeredErrors = []struct {
	name string
	err  error
}{
	{"write_failed", newError(kindWriteFailed, "shard 2: stream unavailable <retry>")},
	{"invalid_id", errorOf(kindInvalidID, errors.New(`"id" must not be empty`))},
	{"invalid_parameter", newError(kindInvalidParameter, `refresh must be wait_for or false, not "sometimes"`)},
	{"invalid_body", newError(kindInvalidBody, "the document must be a JSON object")},
	{"rate_limited", func() error {
		e := newError(kindRateLimited, "too many requests: the limit is 5 per second")
		e.retryAfter = 1500 * time.Millisecond
		return e
	}()},
	{"overloaded", newAdmission(1, 0, time.Millisecond, newMetrics(prometheus.NewRegistry())).overloaded()},
	{"forbidden", newError(kindForbidden, `this key may not act on index "books"`)},
}

// renderError writes err through the one error path, as a handler
// returning it would, and returns the status and body.
func renderError(t *testing.T, err error) (int, []byte) {
	t.Helper()
	s := newServer(nil, nil, nil, quietOptions())
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest("GET", "/v1/indexes/books/search", nil)
	s.handle(func(*gin.Context) (any, error) { return nil, err })(c)
	if !c.IsAborted() {
		t.Error("an error answer did not stop the handler chain")
	}
	var head []string
	for _, h := range []string{"Retry-After", "WWW-Authenticate"} {
		if v := rec.Header().Get(h); v != "" {
			head = append(head, h+": "+v)
		}
	}
	if len(head) > 0 {
		return rec.Code, append([]byte(strings.Join(head, "\n")+"\n"), rec.Body.Bytes()...)
	}
	return rec.Code, rec.Body.Bytes()
}

// TestErrorEnvelope writes each error through the one error path and
// checks the answer byte for byte.
func TestErrorEnvelope(t *testing.T) {
	for _, tt := range append(mappedErrors, answeredErrors...) {
		t.Run(tt.name, func(t *testing.T) {
			status, body := renderError(t, tt.err)
			goldenRaw(t, tt.name, status, body)
		})
	}
}

// TestErrorKindStatus pins the error table: every kind the API answers
// with, its status, and that a wrapped error keeps its kind.
func TestErrorKindStatus(t *testing.T) {
	want := map[errorKind]int{
		kindNotFound:          http.StatusNotFound,
		kindMethodNotAllowed:  http.StatusMethodNotAllowed,
		kindUnauthorized:      http.StatusUnauthorized,
		kindForbidden:         http.StatusForbidden,
		kindUnsupportedType:   http.StatusUnsupportedMediaType,
		kindRateLimited:       http.StatusTooManyRequests,
		kindOverloaded:        http.StatusTooManyRequests,
		kindLimitExceeded:     http.StatusBadRequest,
		kindInvalidKey:        http.StatusBadRequest,
		kindKeyNotFound:       http.StatusNotFound,
		kindClientClosed:      499,
		kindBodyTooLarge:      http.StatusRequestEntityTooLarge,
		kindInvalidBody:       http.StatusBadRequest,
		kindInvalidParameter:  http.StatusBadRequest,
		kindInvalidIndexName:  http.StatusBadRequest,
		kindInvalidSettings:   http.StatusBadRequest,
		kindInvalidMapping:    http.StatusBadRequest,
		kindInvalidID:         http.StatusBadRequest,
		kindInvalidRequest:    http.StatusBadRequest,
		kindQueryParseError:   http.StatusBadRequest,
		kindSearchError:       http.StatusBadRequest,
		kindIndexNotFound:     http.StatusNotFound,
		kindIndexExists:       http.StatusConflict,
		kindDocumentNotFound:  http.StatusNotFound,
		kindWriteFailed:       http.StatusServiceUnavailable,
		kindShardsUnavailable: http.StatusServiceUnavailable,
		kindTimeout:           http.StatusGatewayTimeout,
		kindInternal:          http.StatusInternalServerError,
		// A request kind a lower layer names that the table does not list.
		errorKind("some_new_request_error"): http.StatusBadRequest,
	}
	for kind, status := range want {
		if got := kind.status(); got != status {
			t.Errorf("%s: status %d, want %d", kind, got, status)
		}
	}
	inner := newError(kindInvalidID, "bad id")
	if got := toAPIError(fmt.Errorf("put: %w", inner)); got != inner {
		t.Errorf("a wrapped answer became %+v", got)
	}
	invalid := &meta.InvalidError{Kind: "mapping", Reason: "no such analyzer"}
	if got := toAPIError(fmt.Errorf("create: %w", invalid)); got.kind != kindInvalidMapping || got.reason != "no such analyzer" {
		t.Errorf("a wrapped mapping error became %+v", got)
	}
	unknown := &coordinator.RequestError{Type: "some_new_request_error", Err: errors.New("no")}
	if got := toAPIError(unknown); got.kind != "some_new_request_error" || got.kind.status() != http.StatusBadRequest {
		t.Errorf("a request error of a new kind became %+v", got)
	}
}
