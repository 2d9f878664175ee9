package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shoal-search/shoal/internal/testcluster"
)

// FuzzDocID drives the whole id path of a real in-process cluster: any id
// PUT and then GET comes back with the same id and body byte for byte, or
// the PUT is a 400 (an id that is too long or not UTF-8; an empty one
// names no document route and is a 404).
func FuzzDocID(f *testing.F) {
	for _, id := range []string{"victim", " victim ", " ", "\t", "a\nb", "%", "/", "a/b", "..", ".", "ünï", "\xff", "\x00", "a\u2028b", strings.Repeat("x", 600)} {
		f.Add(id)
	}
	c := testcluster.Start(f, 1)
	a := &httpAPI{base: c.URL(), hc: &http.Client{}}
	a.json(f, "PUT", "/v1/indexes/ids", `{"shards":3}`, http.StatusCreated, nil)
	f.Fuzz(func(t *testing.T, id string) {
		path := "/v1/indexes/ids/docs/" + url.PathEscape(id)
		body, _ := json.Marshal(map[string]string{"v": id})
		status, raw := a.do(t, "PUT", path+"?refresh=wait_for", string(body))
		valid := id != "" && len(id) <= 512 && utf8.ValidString(id)
		if !valid {
			// An empty id leaves no path segment: that route does not exist.
			if status != http.StatusBadRequest && !(id == "" && status == http.StatusNotFound) {
				t.Fatalf("PUT %q: %d %s, want 400", id, status, raw)
			}
			return
		}
		if status != http.StatusOK {
			t.Fatalf("PUT %q: %d %s", id, status, raw)
		}
		status, raw = a.do(t, "GET", path, "")
		var doc map[string]string
		if status != http.StatusOK || json.Unmarshal(raw, &doc) != nil || doc["id"] != id || doc["v"] != id {
			t.Fatalf("GET %q: %d %s", id, status, raw)
		}
	})
}
