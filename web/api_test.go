package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/indexer"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// maxBody is the body limit of the test cluster, small so that 413 is cheap
// to provoke.
const maxBody = 16 << 10

// bookDoc is one document of the hand-written test corpus.
type bookDoc struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Body  string `json:"body"`
	Kind  string `json:"kind"`
	Year  int    `json:"year"`
}

// books is the test corpus: every year differs, so a sort by year is total.
var books = []bookDoc{
	{"r1", "The Long River", "A slow river winds through the green valley toward the sea.", "river", 1901},
	{"r2", "River Crossing", "Travellers crossed the river at dawn, the water cold and fast.", "river", 1923},
	{"r3", "Source of the River", "High in the mountain a spring becomes a river.", "river", 1950},
	{"r4", "Delta", "Where the river meets the sea the land turns to marsh.", "river", 1977},
	{"r5", "Flood Season", "Each spring the river rises and floods the low fields.", "river", 2004},
	{"m1", "The Silent Mountain", "Snow lies on the mountain all year; no path reaches the top.", "mountain", 1911},
	{"m2", "Pass in Winter", "The mountain pass closes when the first snow falls.", "mountain", 1938},
	{"m3", "Summit", "From the summit the whole range of mountains is visible.", "mountain", 1966},
	{"m4", "Foothills", "Sheep graze on the foothills below the mountain.", "mountain", 1999},
	{"f1", "Old Forest", "Oak and beech grow tall in the old forest.", "forest", 1905},
	{"f2", "Forest Fire", "A dry summer left the forest open to fire.", "forest", 1947},
	{"f3", "Path Through the Trees", "A narrow path leads through the forest to the river.", "forest", 1982},
	{"f4", "Mushrooms", "After rain, mushrooms appear on the forest floor.", "forest", 2011},
	{"s1", "Calm Sea", "The sea was calm and the boats stayed in the harbour.", "sea", 1930},
	{"s2", "Storm", "A storm over the sea drove the waves against the cliffs.", "sea", 1961},
	{"s3", "Lighthouse", "The lighthouse keeper watched the sea every night.", "sea", 1994},
}

// riverDocs are the books whose text says "river".
var riverDocs = []string{"f3", "r1", "r2", "r3", "r4", "r5"}

// httpAPI talks HTTP to a test cluster.
type httpAPI struct {
	base string
	hc   *http.Client
}

// do sends a request and returns the status and body.
func (a *httpAPI) do(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, raw
}

// json sends a request, requires status want and decodes the body into out
// (when not nil). It returns the raw body.
func (a *httpAPI) json(t testing.TB, method, path, body string, want int, out any) []byte {
	t.Helper()
	status, raw := a.do(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return raw
}

// errorBody is the API's error shape.
type errorBody struct {
	Error struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// wantError requires an error response with status want and the JSON error
// shape; it returns the error's type.
func (a *httpAPI) wantError(t *testing.T, method, path, body string, want int) string {
	t.Helper()
	status, raw := a.do(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, raw)
	}
	var e errorBody
	if err := json.Unmarshal(raw, &e); err != nil || e.Error.Type == "" || e.Error.Reason == "" {
		t.Fatalf("%s %s: body %s is not {\"error\":{\"type\",\"reason\"}} (%v)", method, path, raw, err)
	}
	return e.Error.Type
}

// searchResponse is the search answer as the API returns it.
type searchResponse struct {
	Hits []struct {
		ID        string              `json:"id"`
		Score     float64             `json:"score"`
		Sort      []string            `json:"sort"`
		Fields    map[string]any      `json:"fields"`
		Fragments map[string][]string `json:"fragments"`
	} `json:"hits"`
	TotalHits uint64  `json:"total_hits"`
	MaxScore  float64 `json:"max_score"`
	Facets    map[string]struct {
		Field string `json:"field"`
		Total int    `json:"total"`
		Terms []struct {
			Term  string `json:"term"`
			Count int    `json:"count"`
		} `json:"terms"`
	} `json:"facets"`
	Shards struct {
		Total      int `json:"total"`
		Successful int `json:"successful"`
		Failed     int `json:"failed"`
		Failures   []struct {
			Shard  int    `json:"shard"`
			State  string `json:"state"`
			Node   string `json:"node"`
			Reason string `json:"reason"`
		} `json:"failures"`
	} `json:"shards"`
	Coverage struct {
		Docs    uint64  `json:"docs"`
		Total   uint64  `json:"total"`
		Percent float64 `json:"percent"`
	} `json:"coverage"`
	Partial  bool `json:"partial"`
	TimedOut bool `json:"timed_out"`
}

func (r *searchResponse) ids() []string {
	out := make([]string, len(r.Hits))
	for i, h := range r.Hits {
		out[i] = h.ID
	}
	return out
}

// indexInfo is GET /v1/indexes/{index}.
type indexInfo struct {
	Name       string `json:"name"`
	Shards     int    `json:"shards"`
	Docs       uint64 `json:"docs"`
	ShardStats []struct {
		Shard      int    `json:"shard"`
		Node       string `json:"node"`
		Docs       uint64 `json:"docs"`
		AppliedSeq uint64 `json:"applied_seq"`
	} `json:"shard_stats"`
}

// bulkResult is the bulk endpoint's answer.
type bulkResult struct {
	Indexed int `json:"indexed"`
	Deleted int `json:"deleted"`
	Failed  int `json:"failed"`
	Errors  []struct {
		Line  int    `json:"line"`
		ID    string `json:"id"`
		Error string `json:"error"`
	} `json:"errors"`
}

// ndjson renders documents as a bulk body.
func ndjson(t *testing.T, docs ...any) string {
	t.Helper()
	var b strings.Builder
	for _, d := range docs {
		if s, ok := d.(string); ok {
			b.WriteString(s)
		} else {
			raw, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(raw)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestAPI runs every route of the JSON API against one real in-process
// cluster: four searchers, an index "books" of four shards holding the
// hand-written corpus. Subtests run in order; the last one stops a searcher.
func TestAPI(t *testing.T) {
	c := testcluster.Start(t, 4, func(o *cluster.Options) {
		o.Frontend.Web.MaxBodyBytes = maxBody
	})
	a := &httpAPI{base: c.URL(), hc: &http.Client{Timeout: 30 * time.Second}}

	// books holds only the corpus, so its scores and goldens do not depend
	// on the other subtests; those write to scratch.
	a.json(t, "PUT", "/v1/indexes/books", `{"shards":4}`, http.StatusCreated, nil)
	a.json(t, "PUT", "/v1/indexes/scratch", `{"shards":4}`, http.StatusCreated, nil)
	var loaded bulkResult
	docs := make([]any, len(books))
	for i, d := range books {
		docs[i] = d
	}
	a.json(t, "POST", "/v1/indexes/books/bulk?refresh=wait_for", ndjson(t, docs...), http.StatusOK, &loaded)
	if loaded.Indexed != len(books) || loaded.Failed != 0 {
		t.Fatalf("loading books: %+v", loaded)
	}
	// Readiness comes from heartbeats, which report new copies within a
	// heartbeat interval.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("IndexInfo", func(t *testing.T) {
		var info indexInfo
		raw := a.json(t, "GET", "/v1/indexes/books", "", http.StatusOK, &info)
		if info.Name != "books" || info.Shards != 4 || info.Docs != uint64(len(books)) {
			t.Fatalf("info = %s, want books with 4 shards and %d docs", raw, len(books))
		}
		if len(info.ShardStats) != 4 {
			t.Fatalf("shard_stats has %d entries, want 4: %s", len(info.ShardStats), raw)
		}
		perShard := map[int]uint64{}
		for _, d := range books {
			perShard[meta.ShardOf(d.ID, 4)]++
		}
		var sum uint64
		nodes := map[string]bool{}
		for i, st := range info.ShardStats {
			// 4 shards on 4 searchers: one shard each.
			if st.Shard != i || !strings.HasPrefix(st.Node, "searcher-") || nodes[st.Node] {
				t.Errorf("shard_stats[%d] = shard %d on %q, want shard %d alone on its searcher", i, st.Shard, st.Node, i)
			}
			nodes[st.Node] = true
			if st.Docs != perShard[i] {
				t.Errorf("shard %d holds %d docs, want %d (by ShardOf)", i, st.Docs, perShard[i])
			}
			if st.Docs > 0 && st.AppliedSeq == 0 {
				t.Errorf("shard %d holds docs but applied_seq is 0", i)
			}
			sum += st.Docs
		}
		if sum != info.Docs {
			t.Errorf("shard docs add up to %d, docs says %d", sum, info.Docs)
		}
		golden(t, "index_info", raw)
	})

	t.Run("CreateIndex", func(t *testing.T) {
		tests := []struct {
			name, index, body string
			want              int
			wantType          string
		}{
			{"created", "created-1", `{"shards":2}`, http.StatusCreated, ""},
			{"default settings", "created_2", "", http.StatusCreated, ""},
			{"exists", "created-1", `{"shards":2}`, http.StatusConflict, "index_exists"},
			{"name with space", "Bad%20Name", `{"shards":2}`, http.StatusBadRequest, "invalid_index_name"},
			{"name with dot", "a.b", `{"shards":2}`, http.StatusBadRequest, "invalid_index_name"},
			{"upper case name", "Books", `{"shards":2}`, http.StatusBadRequest, "invalid_index_name"},
			{"name starting with dash", "-x", `{"shards":2}`, http.StatusBadRequest, "invalid_index_name"},
			{"name too long", strings.Repeat("x", 65), `{"shards":2}`, http.StatusBadRequest, "invalid_index_name"},
			{"invalid JSON", "bad-body", `{"shards":`, http.StatusBadRequest, "invalid_body"},
			{"not an object", "bad-body", `[1]`, http.StatusBadRequest, "invalid_body"},
			{"unknown field", "bad-body", `{"shards":2,"colour":"red"}`, http.StatusBadRequest, "invalid_body"},
			{"trailing data", "bad-body", `{"shards":2} {}`, http.StatusBadRequest, "invalid_body"},
			{"shards 0", "bad-body", `{"shards":0}`, http.StatusBadRequest, "invalid_settings"},
			{"shards negative", "bad-body", `{"shards":-3}`, http.StatusBadRequest, "invalid_settings"},
			{"shards too many", "bad-body", `{"shards":100000}`, http.StatusBadRequest, "invalid_settings"},
			{"shards not a number", "bad-body", `{"shards":"two"}`, http.StatusBadRequest, "invalid_body"},
			{"replicas 0", "bad-body", `{"shards":1,"replicas":0}`, http.StatusBadRequest, "invalid_settings"},
			{"facet without field", "bad-body", `{"facets":{"k":{"size":3}}}`, http.StatusBadRequest, "invalid_settings"},
			{"bad mapping", "bad-body", `{"mapping":{"default_analyzer":"no-such-analyzer"}}`, http.StatusBadRequest, "invalid_mapping"},
			{"other scoring model", "bad-body", `{"mapping":{"scoring_model":"tfidf"}}`, http.StatusBadRequest, "invalid_mapping"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := "/v1/indexes/" + tt.index
				if tt.want == http.StatusCreated {
					var out struct {
						Name   string `json:"name"`
						Shards int    `json:"shards"`
					}
					a.json(t, "PUT", path, tt.body, tt.want, &out)
					if out.Name != tt.index || out.Shards < 1 {
						t.Errorf("created %+v", out)
					}
					return
				}
				if typ := a.wantError(t, "PUT", path, tt.body, tt.want); typ != tt.wantType {
					t.Errorf("error type %q, want %q", typ, tt.wantType)
				}
			})
		}
		// Nothing was created by a rejected request.
		a.wantError(t, "GET", "/v1/indexes/bad-body", "", http.StatusNotFound)
		var def indexInfo
		a.json(t, "GET", "/v1/indexes/created_2", "", http.StatusOK, &def)
		if def.Shards != 4 {
			t.Errorf("index created without settings has %d shards, want the default 4", def.Shards)
		}
	})

	t.Run("ListIndexes", func(t *testing.T) {
		var out struct {
			Indexes []struct {
				Name   string `json:"name"`
				Shards int    `json:"shards"`
				Docs   uint64 `json:"docs"`
			} `json:"indexes"`
		}
		raw := a.json(t, "GET", "/v1/indexes", "", http.StatusOK, &out)
		got := map[string]string{}
		for _, ix := range out.Indexes {
			got[ix.Name] = fmt.Sprintf("%d shards, %d docs", ix.Shards, ix.Docs)
		}
		want := map[string]string{
			"books":     fmt.Sprintf("4 shards, %d docs", len(books)),
			"created-1": "2 shards, 0 docs",
			"created_2": "4 shards, 0 docs",
			"scratch":   "4 shards, 0 docs",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("indexes = %v, want %v (body %s)", got, want, raw)
		}
	})

	t.Run("DeleteIndex", func(t *testing.T) {
		for _, name := range []string{"created-1", "created_2"} {
			a.json(t, "DELETE", "/v1/indexes/"+name, "", http.StatusOK, nil)
			a.wantError(t, "GET", "/v1/indexes/"+name, "", http.StatusNotFound)
			a.wantError(t, "DELETE", "/v1/indexes/"+name, "", http.StatusNotFound)
			a.wantError(t, "GET", "/v1/indexes/"+name+"/search?q=x", "", http.StatusNotFound)
			a.wantError(t, "POST", "/v1/indexes/"+name+"/bulk", `{"id":"a"}`, http.StatusNotFound)
		}
		// The name can be used again, and the new index starts empty.
		a.json(t, "PUT", "/v1/indexes/created-1", `{"shards":1}`, http.StatusCreated, nil)
		var info indexInfo
		a.json(t, "GET", "/v1/indexes/created-1", "", http.StatusOK, &info)
		if info.Shards != 1 || info.Docs != 0 {
			t.Errorf("re-created index: %+v", info)
		}
		a.json(t, "DELETE", "/v1/indexes/created-1", "", http.StatusOK, nil)
	})

	t.Run("BulkOneBrokenLine", func(t *testing.T) {
		tests := []struct {
			name   string
			broken string
			wantID string
		}{
			{"invalid JSON", `{"id":"broken", "title": nope}`, ""},
			{"missing id", `{"title":"no id","batch":"x"}`, ""},
			{"numeric id", `{"id":17,"title":"numeric"}`, ""},
			{"empty id", `{"id":"","title":"empty"}`, ""},
			{"delete not boolean", `{"id":"keep-me","_delete":"yes"}`, "keep-me"},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				batch := fmt.Sprintf("batch%d", i)
				lines := make([]any, 0, 6)
				var ids []string
				for n := 0; n < 5; n++ {
					if n == 2 {
						lines = append(lines, tt.broken)
						continue
					}
					id := fmt.Sprintf("%s-%d", batch, n)
					ids = append(ids, id)
					lines = append(lines, map[string]any{"id": id, "title": "bulk " + id, "batch": batch})
				}
				var res bulkResult
				raw := a.json(t, "POST", "/v1/indexes/scratch/bulk?refresh=wait_for", ndjson(t, lines...), http.StatusOK, &res)
				if res.Indexed != 4 || res.Deleted != 0 || res.Failed != 1 || len(res.Errors) != 1 {
					t.Fatalf("bulk = %s, want 4 indexed and line 3 failed", raw)
				}
				if e := res.Errors[0]; e.Line != 3 || e.ID != tt.wantID || e.Error == "" {
					t.Errorf("error = %+v, want line 3, id %q and a reason", e, tt.wantID)
				}
				if i == 0 {
					golden(t, "bulk_error", raw)
				}
				var sr searchResponse
				a.json(t, "GET", "/v1/indexes/scratch/search?size=20&q=batch:"+batch, "", http.StatusOK, &sr)
				got := sr.ids()
				sort.Strings(got)
				if sr.TotalHits != 4 || !reflect.DeepEqual(got, ids) {
					t.Errorf("search batch:%s = %v (total %d), want %v", batch, got, sr.TotalHits, ids)
				}
				for _, id := range ids {
					a.json(t, "GET", "/v1/indexes/scratch/docs/"+id, "", http.StatusOK, nil)
				}
			})
		}
	})

	t.Run("BulkDeleteAndReplace", func(t *testing.T) {
		before := docCount(t, a, "scratch")
		var res bulkResult
		a.json(t, "POST", "/v1/indexes/scratch/bulk?refresh=wait_for", ndjson(t,
			map[string]any{"id": "dr-1", "title": "alpha one"},
			map[string]any{"id": "dr-2", "title": "alpha two"},
			map[string]any{"id": "dr-3", "title": "alpha three"},
		), http.StatusOK, &res)
		if res.Indexed != 3 || res.Failed != 0 {
			t.Fatalf("first bulk: %+v", res)
		}
		if n := docCount(t, a, "scratch"); n != before+3 {
			t.Fatalf("docs = %d after adding 3 to %d", n, before)
		}
		if got := searchIDs(t, a, "scratch", "alpha"); !reflect.DeepEqual(got, []string{"dr-1", "dr-2", "dr-3"}) {
			t.Fatalf("alpha finds %v", got)
		}

		// Delete one, replace another, and replace one twice in one body:
		// the last write wins.
		raw := a.json(t, "POST", "/v1/indexes/scratch/bulk?refresh=wait_for", ndjson(t,
			`{"id":"dr-1","_delete":true}`,
			map[string]any{"id": "dr-2", "title": "omega two"},
			map[string]any{"id": "dr-3", "title": "beta three"},
			map[string]any{"id": "dr-3", "title": "gamma three"},
			`{"id":"never-written","_delete":true}`,
		), http.StatusOK, &res)
		if res.Indexed != 3 || res.Deleted != 2 || res.Failed != 0 || len(res.Errors) != 0 {
			t.Fatalf("second bulk = %s", raw)
		}
		if n := docCount(t, a, "scratch"); n != before+2 {
			t.Errorf("docs = %d, want %d (3 added, 1 deleted, replaced ones counted once)", n, before+2)
		}
		for q, want := range map[string][]string{
			"alpha": {},
			"omega": {"dr-2"},
			"beta":  {},
			"gamma": {"dr-3"},
		} {
			if got := searchIDs(t, a, "scratch", q); !reflect.DeepEqual(got, want) {
				t.Errorf("%s finds %v, want %v", q, got, want)
			}
		}
		a.wantError(t, "GET", "/v1/indexes/scratch/docs/dr-1", "", http.StatusNotFound)
		var d map[string]any
		a.json(t, "GET", "/v1/indexes/scratch/docs/dr-3", "", http.StatusOK, &d)
		if d["title"] != "gamma three" {
			t.Errorf("dr-3 = %v, want the last write", d)
		}
	})

	t.Run("BulkBadRequests", func(t *testing.T) {
		a.wantError(t, "POST", "/v1/indexes/scratch/bulk?refresh=sometimes", `{"id":"x"}`, http.StatusBadRequest)
		a.wantError(t, "POST", "/v1/indexes/nope/bulk", `{"id":"x"}`, http.StatusNotFound)
		// A body of blank lines writes nothing and is no error.
		var res bulkResult
		a.json(t, "POST", "/v1/indexes/scratch/bulk", "\n\n  \n", http.StatusOK, &res)
		if res.Indexed+res.Deleted+res.Failed != 0 || res.Errors == nil {
			t.Errorf("blank bulk = %+v, want zeros and an empty error list", res)
		}
	})

	t.Run("Documents", func(t *testing.T) {
		// A bulk-written document comes back byte for byte (compacted).
		line := `{"id":"exact","title":"Exact Copy","n":12345678901234567890,"f":0.1,"tags":["a","b"],"nested":{"z":1,"a":null},"u":"\u00e9\u2028"}`
		a.json(t, "POST", "/v1/indexes/scratch/bulk?refresh=wait_for", line+"\n", http.StatusOK, nil)
		_, raw := a.do(t, "GET", "/v1/indexes/scratch/docs/exact", "")
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(line)); err != nil {
			t.Fatal(err)
		}
		if string(raw) != want.String() {
			t.Errorf("GET exact = %s, want the stored %s", raw, want.String())
		}

		before := docCount(t, a, "scratch")
		body := `{"title":"Pier","n":1.5,"tags":["x","y"],"nested":{"k":"v"}}`
		var put map[string]any
		a.json(t, "PUT", "/v1/indexes/scratch/docs/p%201?refresh=wait_for", body, http.StatusOK, &put)
		if put["id"] != "p 1" {
			t.Errorf("PUT answered %v", put)
		}
		var got, wantDoc map[string]any
		a.json(t, "GET", "/v1/indexes/scratch/docs/p%201", "", http.StatusOK, &got)
		_ = json.Unmarshal([]byte(body), &wantDoc)
		wantDoc["id"] = "p 1"
		if !reflect.DeepEqual(got, wantDoc) {
			t.Errorf("GET p 1 = %v, want %v", got, wantDoc)
		}
		if ids := searchIDs(t, a, "scratch", "pier"); !reflect.DeepEqual(ids, []string{"p 1"}) {
			t.Errorf("pier finds %v", ids)
		}

		// Numbers keep their exact digits through PUT as well.
		a.json(t, "PUT", "/v1/indexes/scratch/docs/bignum?refresh=wait_for", `{"n":12345678901234567890,"f":0.1}`, http.StatusOK, nil)
		if _, raw := a.do(t, "GET", "/v1/indexes/scratch/docs/bignum", ""); !strings.Contains(string(raw), `"n":12345678901234567890`) || !strings.Contains(string(raw), `"f":0.1`) {
			t.Errorf("GET bignum = %s, want the numbers as written", raw)
		}
		a.json(t, "DELETE", "/v1/indexes/scratch/docs/bignum?refresh=wait_for", "", http.StatusOK, nil)

		// Same id again replaces.
		a.json(t, "PUT", "/v1/indexes/scratch/docs/p%201?refresh=wait_for", `{"id":"p 1","title":"Jetty"}`, http.StatusOK, nil)
		got = nil
		a.json(t, "GET", "/v1/indexes/scratch/docs/p%201", "", http.StatusOK, &got)
		if !reflect.DeepEqual(got, map[string]any{"id": "p 1", "title": "Jetty"}) {
			t.Errorf("after replace GET = %v", got)
		}
		if n := docCount(t, a, "scratch"); n != before+1 {
			t.Errorf("docs = %d after put and replace, want %d", n, before+1)
		}
		if ids := searchIDs(t, a, "scratch", "pier"); len(ids) != 0 {
			t.Errorf("old content still found: %v", ids)
		}
		if ids := searchIDs(t, a, "scratch", "jetty"); !reflect.DeepEqual(ids, []string{"p 1"}) {
			t.Errorf("jetty finds %v", ids)
		}

		a.json(t, "DELETE", "/v1/indexes/scratch/docs/p%201?refresh=wait_for", "", http.StatusOK, nil)
		if typ := a.wantError(t, "GET", "/v1/indexes/scratch/docs/p%201", "", http.StatusNotFound); typ != "document_not_found" {
			t.Errorf("GET deleted doc: type %q", typ)
		}
		if ids := searchIDs(t, a, "scratch", "jetty"); len(ids) != 0 {
			t.Errorf("deleted doc still found: %v", ids)
		}
		if n := docCount(t, a, "scratch"); n != before {
			t.Errorf("docs = %d after delete, want %d", n, before)
		}

		tests := []struct {
			name, method, path, body string
			want                     int
		}{
			{"get never written", "GET", "/v1/indexes/scratch/docs/ghost", "", http.StatusNotFound},
			{"get unknown index", "GET", "/v1/indexes/nope/docs/r1", "", http.StatusNotFound},
			{"put unknown index", "PUT", "/v1/indexes/nope/docs/r1", `{"title":"x"}`, http.StatusNotFound},
			{"delete unknown index", "DELETE", "/v1/indexes/nope/docs/r1", "", http.StatusNotFound},
			{"put invalid JSON", "PUT", "/v1/indexes/scratch/docs/x", `{"title":`, http.StatusBadRequest},
			{"put array", "PUT", "/v1/indexes/scratch/docs/x", `["title"]`, http.StatusBadRequest},
			{"put null", "PUT", "/v1/indexes/scratch/docs/x", `null`, http.StatusBadRequest},
			{"put empty body", "PUT", "/v1/indexes/scratch/docs/x", ``, http.StatusBadRequest},
			{"put id mismatch", "PUT", "/v1/indexes/scratch/docs/x", `{"id":"y"}`, http.StatusBadRequest},
			{"put numeric id", "PUT", "/v1/indexes/scratch/docs/x", `{"id":5}`, http.StatusBadRequest},
			{"put id too long", "PUT", "/v1/indexes/scratch/docs/" + strings.Repeat("x", indexer.MaxIDBytes+1), `{}`, http.StatusBadRequest},
			{"put bad refresh", "PUT", "/v1/indexes/scratch/docs/x?refresh=later", `{}`, http.StatusBadRequest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a.wantError(t, tt.method, tt.path, tt.body, tt.want)
			})
		}
		a.wantError(t, "GET", "/v1/indexes/scratch/docs/x", "", http.StatusNotFound)
	})

	t.Run("ReadYourWrites", func(t *testing.T) { checkTokens(t, a) })

	t.Run("SearchGET", func(t *testing.T) {
		var sr searchResponse
		raw := a.json(t, "GET", "/v1/indexes/books/search?q=river&size=3", "", http.StatusOK, &sr)
		if sr.TotalHits != uint64(len(riverDocs)) || len(sr.Hits) != 3 || sr.Partial || sr.TimedOut {
			t.Fatalf("q=river: %s", raw)
		}
		if sr.Shards.Total != 4 || sr.Shards.Successful != 4 || sr.Shards.Failed != 0 || sr.Shards.Failures == nil {
			t.Errorf("shards = %+v", sr.Shards)
		}
		for i := 1; i < len(sr.Hits); i++ {
			if sr.Hits[i].Score > sr.Hits[i-1].Score {
				t.Errorf("hits not in score order: %s", raw)
			}
		}
		if sr.MaxScore != sr.Hits[0].Score {
			t.Errorf("max_score %v, top hit %v", sr.MaxScore, sr.Hits[0].Score)
		}
		if sr.Hits[0].Fields["title"] == nil {
			t.Errorf("GET search returns stored fields by default: %s", raw)
		}

		// from/size window over the whole ranking.
		var all, page searchResponse
		a.json(t, "GET", "/v1/indexes/books/search?q=river&size=10", "", http.StatusOK, &all)
		a.json(t, "GET", "/v1/indexes/books/search?q=river&size=2&from=3", "", http.StatusOK, &page)
		if got, want := page.ids(), all.ids()[3:5]; !reflect.DeepEqual(got, want) {
			t.Errorf("from=3 size=2 = %v, want %v of %v", got, want, all.ids())
		}
		got := all.ids()
		sort.Strings(got)
		if !reflect.DeepEqual(got, riverDocs) {
			t.Errorf("river finds %v, want %v", got, riverDocs)
		}
		a.json(t, "GET", "/v1/indexes/books/search?q=river&from=100", "", http.StatusOK, &page)
		if len(page.Hits) != 0 || page.TotalHits != uint64(len(riverDocs)) {
			t.Errorf("from past the end: %d hits, total %d", len(page.Hits), page.TotalHits)
		}

		// Field syntax, timeout and allow_partial are accepted.
		a.json(t, "GET", "/v1/indexes/books/search?q=kind:sea&timeout=2s&allow_partial=false&size=10", "", http.StatusOK, &sr)
		if got := sortedHitIDs(&sr); !reflect.DeepEqual(got, []string{"s1", "s2", "s3"}) {
			t.Errorf("kind:sea = %v", got)
		}
		a.json(t, "GET", "/v1/indexes/books/search?q=%2Bkind:sea+%2Byear:>1950", "", http.StatusOK, &sr)
		if got := sortedHitIDs(&sr); !reflect.DeepEqual(got, []string{"s2", "s3"}) {
			t.Errorf("+kind:sea +year:>1950 = %v", got)
		}
	})

	t.Run("SearchPOST", func(t *testing.T) {
		var sr searchResponse
		raw := a.json(t, "POST", "/v1/indexes/books/search", `{
			"query": {"match": "river", "field": "body"},
			"size": 3,
			"fields": ["title", "year"],
			"highlight": {"style": "html", "fields": ["body"]},
			"facets": {"kinds": {"field": "kind", "size": 10}},
			"timeout": "5s",
			"allow_partial": true
		}`, http.StatusOK, &sr)
		if sr.TotalHits != uint64(len(riverDocs)) || len(sr.Hits) != 3 {
			t.Fatalf("match river: %s", raw)
		}
		for _, h := range sr.Hits {
			if h.Fields["title"] == nil || h.Fields["year"] == nil || h.Fields["body"] != nil {
				t.Errorf("hit %s fields = %v, want title and year only", h.ID, h.Fields)
			}
			if len(h.Fragments["body"]) == 0 || !strings.Contains(h.Fragments["body"][0], "<mark>river</mark>") {
				t.Errorf("hit %s fragments = %v", h.ID, h.Fragments)
			}
		}
		f := sr.Facets["kinds"]
		facet := map[string]int{}
		for _, term := range f.Terms {
			facet[term.Term] = term.Count
		}
		if f.Field != "kind" || f.Total != len(riverDocs) || !reflect.DeepEqual(facet, map[string]int{"river": 5, "forest": 1}) {
			t.Errorf("facet kinds = %+v", f)
		}
		golden(t, "search_post", raw)

		// Facets over everything, merged across shards.
		a.json(t, "POST", "/v1/indexes/books/search", `{"query":{"query":"year:>0"},"size":0,"facets":{"kinds":{"field":"kind","size":2}}}`, http.StatusOK, &sr)
		f = sr.Facets["kinds"]
		if len(sr.Hits) != 0 || sr.TotalHits != uint64(len(books)) || f.Total != len(books) || len(f.Terms) != 2 ||
			f.Terms[0].Term != "river" || f.Terms[0].Count != 5 || f.Terms[1].Count != 4 {
			t.Errorf("facets over all books = %+v (total hits %d)", f, sr.TotalHits)
		}

		// Field sort, descending.
		a.json(t, "POST", "/v1/indexes/books/search", `{"query":{"query":"year:>0"},"size":4,"sort":["-year"]}`, http.StatusOK, &sr)
		if got := sr.ids(); !reflect.DeepEqual(got, []string{"f4", "r5", "m4", "s3"}) {
			t.Errorf("sort -year = %v", got)
		}

		// search_after continues a sorted listing exactly where it stopped.
		var all, first, next searchResponse
		req := `{"query":{"query":"year:>0"},"size":%d,"sort":["year","_id"]%s}`
		a.json(t, "POST", "/v1/indexes/books/search", fmt.Sprintf(req, 12, ""), http.StatusOK, &all)
		a.json(t, "POST", "/v1/indexes/books/search", fmt.Sprintf(req, 5, ""), http.StatusOK, &first)
		after, _ := json.Marshal(first.Hits[4].Sort)
		a.json(t, "POST", "/v1/indexes/books/search", fmt.Sprintf(req, 5, `,"search_after":`+string(after)), http.StatusOK, &next)
		if got, want := append(first.ids(), next.ids()...), all.ids()[:10]; !reflect.DeepEqual(got, want) {
			t.Errorf("two pages with search_after = %v, want %v", got, want)
		}
		if all.ids()[0] != "r1" || all.ids()[1] != "f1" {
			t.Errorf("sort year = %v", all.ids())
		}
	})

	t.Run("BadInputNever500", func(t *testing.T) {
		big := strings.Repeat("x", maxBody+1)
		tests := []struct {
			name, method, path, body string
			want                     int
		}{
			{"query string unterminated quote", "GET", "/v1/indexes/books/search?q=" + url.QueryEscape(`title:"river`), "", http.StatusBadRequest},
			{"query string lone plus", "GET", "/v1/indexes/books/search?q=" + url.QueryEscape("+"), "", http.StatusBadRequest},
			{"query string trailing colon", "GET", "/v1/indexes/books/search?q=" + url.QueryEscape("title:"), "", http.StatusBadRequest},
			{"query string bad regexp", "GET", "/v1/indexes/books/search?q=" + url.QueryEscape("title:/[/"), "", http.StatusBadRequest},
			{"query string bad range", "GET", "/v1/indexes/books/search?q=" + url.QueryEscape("year:>abc"), "", http.StatusBadRequest},
			{"no q", "GET", "/v1/indexes/books/search", "", http.StatusBadRequest},
			{"blank q", "GET", "/v1/indexes/books/search?q=%20", "", http.StatusBadRequest},
			{"negative size", "GET", "/v1/indexes/books/search?q=river&size=-1", "", http.StatusBadRequest},
			{"size not a number", "GET", "/v1/indexes/books/search?q=river&size=ten", "", http.StatusBadRequest},
			{"window too large", "GET", "/v1/indexes/books/search?q=river&size=100000", "", http.StatusBadRequest},
			{"bad timeout", "GET", "/v1/indexes/books/search?q=river&timeout=soon", "", http.StatusBadRequest},
			{"negative timeout", "GET", "/v1/indexes/books/search?q=river&timeout=-1s", "", http.StatusBadRequest},
			{"bad allow_partial", "GET", "/v1/indexes/books/search?q=river&allow_partial=maybe", "", http.StatusBadRequest},
			{"search unknown index", "GET", "/v1/indexes/nope/search?q=river", "", http.StatusNotFound},
			{"post unknown index", "POST", "/v1/indexes/nope/search", `{"query":{"match_all":{}}}`, http.StatusNotFound},
			{"post invalid JSON", "POST", "/v1/indexes/books/search", `{"query":`, http.StatusBadRequest},
			{"post not JSON", "POST", "/v1/indexes/books/search", `river`, http.StatusBadRequest},
			{"post empty body", "POST", "/v1/indexes/books/search", ``, http.StatusBadRequest},
			{"post no query", "POST", "/v1/indexes/books/search", `{"size":3}`, http.StatusBadRequest},
			{"post unknown query type", "POST", "/v1/indexes/books/search", `{"query":{"frobnicate":"x"}}`, http.StatusBadRequest},
			{"post bad query string", "POST", "/v1/indexes/books/search", `{"query":{"query":"title:\"river"}}`, http.StatusBadRequest},
			{"post bad regexp", "POST", "/v1/indexes/books/search", `{"query":{"regexp":"[","field":"title"}}`, http.StatusBadRequest},
			{"post null query", "POST", "/v1/indexes/books/search", `{"query":null}`, http.StatusBadRequest},
			{"post size wrong type", "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"size":"3"}`, http.StatusBadRequest},
			{"post bad timeout", "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"timeout":"soon"}`, http.StatusBadRequest},
			{"post timeout number", "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"timeout":500}`, http.StatusBadRequest},
			{"post allow_partial string", "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"allow_partial":"no"}`, http.StatusBadRequest},
			{"post search_after wrong length", "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"sort":["year"],"search_after":["a","b"]}`, http.StatusBadRequest},
			{"post after and before", "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"sort":["year"],"search_after":["a"],"search_before":["b"]}`, http.StatusBadRequest},
			{"post facet without field", "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"facets":{"k":{"size":3}}}`, http.StatusBadRequest},
			{"post bad sort", "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"sort":[{"by":"nonsense"}]}`, http.StatusBadRequest},
			{"unknown route", "GET", "/v1/nothing-here", "", http.StatusNotFound},
			{"wrong method", "PATCH", "/v1/indexes/books", "", http.StatusMethodNotAllowed},
			{"create over limit", "PUT", "/v1/indexes/big", `{"mapping":{"x":"` + big + `"}}`, http.StatusRequestEntityTooLarge},
			{"put doc over limit", "PUT", "/v1/indexes/books/docs/big", `{"title":"` + big + `"}`, http.StatusRequestEntityTooLarge},
			{"bulk over limit", "POST", "/v1/indexes/books/bulk", strings.Repeat(`{"id":"many","title":"a line"}`+"\n", maxBody/20), http.StatusRequestEntityTooLarge},
			{"bulk one line over limit", "POST", "/v1/indexes/books/bulk", `{"id":"huge","title":"` + big + strings.Repeat("y", 64<<10) + `"}`, http.StatusRequestEntityTooLarge},
			{"search over limit", "POST", "/v1/indexes/books/search", `{"query":{"query":"` + big + `"}}`, http.StatusRequestEntityTooLarge},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				typ := a.wantError(t, tt.method, tt.path, tt.body, tt.want)
				if tt.want == http.StatusRequestEntityTooLarge && typ != "body_too_large" {
					t.Errorf("type %q, want body_too_large", typ)
				}
			})
		}
		// Nothing of the rejected bodies was written.
		for _, id := range []string{"big", "many", "huge"} {
			a.wantError(t, "GET", "/v1/indexes/books/docs/"+id, "", http.StatusNotFound)
		}
		a.wantError(t, "GET", "/v1/indexes/big", "", http.StatusNotFound)

		_, raw := a.do(t, "GET", "/v1/indexes/books/search?q="+url.QueryEscape(`title:"river`), "")
		golden(t, "error_query", raw)

		// Input Bleve would take, but not as meant, is a 400 naming the
		// problem: "title:(" (Bleve: a term query for "("), a negative size
		// or from (Bleve: its defaults), an unknown key, a window past the
		// limit however large, a timeout no cluster can meet, a sort on a
		// field no document has.
		for _, tt := range []struct{ method, path, body, reason string }{
			{"GET", "/v1/indexes/books/search?q=" + url.QueryEscape("title:("), "", "never closed"},
			{"GET", "/v1/indexes/books/search?q=" + url.QueryEscape("title:["), "", "brackets"},
			{"GET", "/v1/indexes/books/search?q=river&size=9223372036854775807&from=1", "", "must not exceed"},
			{"GET", "/v1/indexes/books/search?q=river&timeout=1ns", "", "the least is"},
			{"GET", "/v1/indexes/books/search?q=river&timeout=100us", "", "the least is"},
			{"GET", "/v1/indexes/books/search?q=river&sort=nosuchfield", "", "no document"},
			{"POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"size":-1}`, "negative"},
			{"POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"from":-1}`, "negative"},
			{"POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"szie":3}`, `unknown key \"szie\"`},
			{"POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"sort":["-no_such_field"]}`, "no document"},
		} {
			status, raw := a.do(t, tt.method, tt.path, tt.body)
			if status != http.StatusBadRequest || !strings.Contains(string(raw), tt.reason) {
				t.Errorf("%s %s %s: %d %s, want 400 saying %q", tt.method, tt.path, tt.body, status, raw, tt.reason)
			}
		}
		// Fields and facets on a field no document has are answered.
		if status, raw := a.do(t, "POST", "/v1/indexes/books/search", `{"query":{"match_all":{}},"fields":["no_such_field"],"facets":{"x":{"field":"no_such_field","size":1}}}`); status != http.StatusOK {
			t.Errorf("fields and facets on an absent field: %d %s", status, raw)
		}
	})

	t.Run("ErrorGoldens", func(t *testing.T) { checkErrorGoldens(t, a) })

	t.Run("Health", func(t *testing.T) {
		a.json(t, "GET", "/healthz", "", http.StatusOK, nil)
		var ready struct {
			Ready bool `json:"ready"`
		}
		a.json(t, "GET", "/readyz", "", http.StatusOK, &ready)
		if !ready.Ready {
			t.Error("readyz says not ready")
		}
	})

	// Destructive: stop searcher-1 and with it the shard of books it holds.
	t.Run("SearcherStopped", func(t *testing.T) {
		var info indexInfo
		a.json(t, "GET", "/v1/indexes/books", "", http.StatusOK, &info)
		lost := -1
		for _, st := range info.ShardStats {
			if st.Node == "searcher-1" {
				lost = st.Shard
			}
		}
		if lost < 0 {
			t.Fatalf("searcher-1 holds no shard of books: %+v", info.ShardStats)
		}
		if err := c.StopSearcher(1); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, 15*time.Second, 20*time.Millisecond, func() error {
			status, raw := a.do(t, "GET", "/readyz", "")
			if status != http.StatusServiceUnavailable {
				return fmt.Errorf("readyz still %d with a searcher stopped: %s", status, raw)
			}
			if !strings.Contains(string(raw), fmt.Sprintf(`"books":[%d]`, lost)) {
				t.Errorf("readyz 503 body %s does not name shard %d of books", raw, lost)
			}
			return nil
		})
		a.json(t, "GET", "/healthz", "", http.StatusOK, nil)

		var sr searchResponse
		raw := a.json(t, "GET", "/v1/indexes/books/search?q=kind:river+kind:sea&size=10&fields=title", "", http.StatusOK, &sr)
		if !sr.Partial || sr.Shards.Failed != 1 || len(sr.Shards.Failures) != 1 ||
			sr.Shards.Failures[0].Shard != lost || sr.Shards.Failures[0].Node != "searcher-1" {
			t.Fatalf("partial search: %s", raw)
		}
		for _, id := range sr.ids() {
			if meta.ShardOf(id, 4) == lost {
				t.Errorf("hit %s comes from the stopped shard %d", id, lost)
			}
		}
		golden(t, "search_partial", raw)

		status, raw := a.do(t, "GET", "/v1/indexes/books/search?q=river&allow_partial=false", "")
		if status != http.StatusServiceUnavailable || !strings.Contains(string(raw), fmt.Sprintf(`"failures":[{"shard":%d,"state":"unavailable","node":"searcher-1"`, lost)) {
			t.Errorf("allow_partial=false: %d %s", status, raw)
		}
		goldenError(t, "shards_unavailable", status, raw)
		checkMinCoverage(t, a, info, lost)
	})
}

func docCount(t *testing.T, a *httpAPI, index string) uint64 {
	t.Helper()
	var info indexInfo
	a.json(t, "GET", "/v1/indexes/"+index, "", http.StatusOK, &info)
	return info.Docs
}

// searchIDs returns the sorted ids of every hit of the query string q.
func searchIDs(t *testing.T, a *httpAPI, index, q string) []string {
	t.Helper()
	var sr searchResponse
	a.json(t, "GET", "/v1/indexes/"+index+"/search?size=100&q="+url.QueryEscape(q), "", http.StatusOK, &sr)
	if sr.Partial {
		t.Fatalf("search %q was partial: %+v", q, sr.Shards)
	}
	return sortedHitIDs(&sr)
}

func sortedHitIDs(sr *searchResponse) []string {
	ids := sr.ids()
	sort.Strings(ids)
	return ids
}

// golden compares a JSON response, with its volatile values normalised,
// to testdata/golden/NAME.json; with -update it rewrites the file.
func golden(t *testing.T, name string, raw []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("golden %s: %v in %s", name, err, raw)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(normalize("", v)); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	matchGolden(t, filepath.Join("testdata", "golden", name+".json"), got)
}

// matchGolden compares got with the golden file at path, or rewrites the
// file with -update.
func matchGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *updateGolden {
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
		t.Fatalf("golden %s: %v (run go test ./web -run TestAPI -update to create it)", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("answer differs from %s (run with -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// volatile are the keys whose values differ from run to run.
var volatile = map[string]bool{"took_ms": true, "applied_seq": true, "created": true, "index_uid": true, "uid": true, "token": true}

// normalize replaces volatile values by placeholders and rounds scores to
// four decimals.
func normalize(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(k, e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(key, e)
		}
		return x
	case float64:
		if volatile[key] {
			return "<volatile>"
		}
		return math.Round(x*1e4) / 1e4
	case string:
		if volatile[key] {
			return "<volatile>"
		}
		return x
	default:
		return v
	}
}
