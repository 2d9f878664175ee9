package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// doRaw sends one request with an already escaped path and returns the
// status and body.
func (c *Cluster) doRaw(ctx context.Context, t testing.TB, method, rawPath, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, c.URL+rawPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	// A bulk on a loaded machine may take longer than the harness
	// client's timeout: this client waits as long as ctx.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func docPath(index, id string) string {
	return "/v1/indexes/" + index + "/docs/" + url.PathEscape(id)
}

// hitIDs searches q and returns the ids of the hits.
func (c *Cluster) hitIDs(ctx context.Context, t testing.TB, index, q string) []string {
	t.Helper()
	res, err := c.Client.SearchQuery(ctx, index, q, 50, 0)
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	var ids []string
	for _, h := range res.Hits {
		ids = append(ids, h.ID)
	}
	return ids
}

// TestHostileIDs: the id a client sends is the id stored, byte for byte;
// ids differing only in white space are different documents; an id that
// is not UTF-8 is refused with a 400 naming the problem.
func TestHostileIDs(t *testing.T) {
	skipShort(t)
	c := StartCluster(t, shoalBin, Options{Searchers: 2, HealAfter: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const index = "ids"
	createIndex(ctx, t, c.Client, index, 4, 1)
	c.WaitReady(ctx, t)

	ids := []string{"victim", " victim ", " ", "\t", "a\nb", "v2", " v2", "ünï cödé", "dot.ted>*"}
	for i, id := range ids {
		body := fmt.Sprintf(`{"title":"word%d"}`, i)
		if st, b := c.doRaw(ctx, t, "PUT", docPath(index, id)+"?refresh=wait_for", body); st != http.StatusOK {
			t.Fatalf("PUT %q: %d %s", id, st, b)
		}
	}
	for i, id := range ids {
		st, b := c.doRaw(ctx, t, "GET", docPath(index, id), "")
		var doc struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		}
		if st != http.StatusOK || json.Unmarshal(b, &doc) != nil || doc.ID != id || doc.Title != fmt.Sprintf("word%d", i) {
			t.Errorf("GET %q: %d %s; want id %q and title word%d", id, st, b, id, i)
		}
		if got := c.hitIDs(ctx, t, index, fmt.Sprintf("title:word%d", i)); len(got) != 1 || got[0] != id {
			t.Errorf("search for the document of %q finds %q", id, got)
		}
	}

	// Deleting v2 leaves " v2" alone, and no ghost of v2 in search.
	if st, b := c.doRaw(ctx, t, "DELETE", docPath(index, "v2")+"?refresh=wait_for", ""); st != http.StatusOK {
		t.Fatalf("DELETE v2: %d %s", st, b)
	}
	if st, _ := c.doRaw(ctx, t, "GET", docPath(index, "v2"), ""); st != http.StatusNotFound {
		t.Errorf("GET v2 after its delete: %d, want 404", st)
	}
	if got := c.hitIDs(ctx, t, index, "title:word5"); len(got) != 0 {
		t.Errorf("deleted v2 still found: %q", got)
	}
	if got := c.hitIDs(ctx, t, index, "title:word6"); len(got) != 1 || got[0] != " v2" {
		t.Errorf(`" v2" after deleting v2: %q`, got)
	}

	for _, raw := range []string{"%FF", "a%C3", "%ED%A0%80"} {
		st, b := c.doRaw(ctx, t, "PUT", "/v1/indexes/"+index+"/docs/"+raw, `{"title":"x"}`)
		if st != http.StatusBadRequest || !strings.Contains(string(b), "UTF-8") {
			t.Errorf("PUT id %s: %d %s; want 400 naming UTF-8", raw, st, b)
		}
	}
	st, b := c.doRaw(ctx, t, "POST", "/v1/indexes/"+index+"/bulk", "{\"id\":\"\xff\",\"title\":\"x\"}\n")
	if st != http.StatusOK || !strings.Contains(string(b), "UTF-8") || !strings.Contains(string(b), `"failed":1`) {
		t.Errorf("bulk line with a non-UTF-8 id: %d %s", st, b)
	}
}
