package web_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-search/shoal/indexer"
)

// goldenError compares an error answer byte for byte to
// testdata/golden/errors/api_NAME.txt: the status line, then the body as
// sent. The error envelope is a contract, so nothing is normalised.
func goldenError(t *testing.T, name string, status int, body []byte) {
	t.Helper()
	got := []byte(fmt.Sprintf("HTTP %d\n%s\n", status, body))
	matchGolden(t, filepath.Join("testdata", "golden", "errors", "api_"+name+".txt"), got)
}

// checkErrorGoldens provokes each error a real cluster answers with, one
// request per path through the handlers, and checks the answers byte for
// byte. It writes nothing that succeeds.
func checkErrorGoldens(t *testing.T, a *httpAPI) {
	big := strings.Repeat("x", maxBody+1)
	tests := []struct {
		name, method, path, body string
	}{
		{"index_not_found", "GET", "/v1/indexes/nope", ""},
		{"delete_index_not_found", "DELETE", "/v1/indexes/nope", ""},
		{"index_exists", "PUT", "/v1/indexes/books", `{"shards":4}`},
		{"document_not_found", "GET", "/v1/indexes/books/docs/ghost", ""},
		{"get_doc_index_not_found", "GET", "/v1/indexes/nope/docs/r1", ""},
		{"put_doc_index_not_found", "PUT", "/v1/indexes/nope/docs/r1", `{"title":"x"}`},
		{"put_doc_invalid_id", "PUT", "/v1/indexes/books/docs/" + strings.Repeat("x", indexer.MaxIDBytes+1), `{}`},
		{"put_doc_bad_refresh", "PUT", "/v1/indexes/books/docs/x?refresh=later", `{}`},
		{"put_doc_invalid_json", "PUT", "/v1/indexes/books/docs/x", `{"title":`},
		{"put_doc_null", "PUT", "/v1/indexes/books/docs/x", `null`},
		{"put_doc_empty", "PUT", "/v1/indexes/books/docs/x", ``},
		{"put_doc_id_mismatch", "PUT", "/v1/indexes/books/docs/x", `{"id":"<y>"}`},
		{"put_doc_numeric_id", "PUT", "/v1/indexes/books/docs/x", `{"id":5}`},
		{"put_doc_body_too_large", "PUT", "/v1/indexes/books/docs/big", `{"title":"` + big + `"}`},
		{"delete_doc_bad_refresh", "DELETE", "/v1/indexes/books/docs/x?refresh=later", ""},
		{"delete_doc_index_not_found", "DELETE", "/v1/indexes/nope/docs/x", ""},
		{"bulk_index_not_found", "POST", "/v1/indexes/nope/bulk", `{"id":"x"}`},
		{"bulk_bad_refresh", "POST", "/v1/indexes/books/bulk?refresh=sometimes", `{"id":"x"}`},
		{"bulk_body_too_large", "POST", "/v1/indexes/books/bulk", strings.Repeat(`{"id":"many","title":"a line"}`+"\n", maxBody/20)},
		{"bulk_line_too_large", "POST", "/v1/indexes/books/bulk", `{"id":"huge","title":"` + big + strings.Repeat("y", 64<<10) + `"}`},
		{"search_index_not_found", "GET", "/v1/indexes/nope/search?q=river", ""},
		{"search_query_parse_error", "GET", "/v1/indexes/books/search?q=" + url.QueryEscape(`title:"river`), ""},
		{"search_window_too_large", "GET", "/v1/indexes/books/search?q=river&size=100000", ""},
		{"search_post_index_not_found", "POST", "/v1/indexes/nope/search", `{"query":{"match_all":{}}}`},
		{"search_post_unknown_query", "POST", "/v1/indexes/books/search", `{"query":{"frobnicate":"x"}}`},
		{"search_post_after_and_before", "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"sort":["year"],"search_after":["a"],"search_before":["b"]}`},
		{"search_post_facet_without_field", "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"facets":{"k":{"size":3}}}`},
		{"search_post_bad_sort", "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"sort":[{"by":"nonsense"}]}`},
		{"search_post_body_too_large", "POST", "/v1/indexes/books/search", `{"query":{"query":"` + big + `"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := a.do(t, tt.method, tt.path, tt.body)
			if status < 400 {
				t.Fatalf("%s %s: status %d, want an error; body %s", tt.method, tt.path, status, raw)
			}
			goldenError(t, tt.name, status, raw)
		})
	}
}
