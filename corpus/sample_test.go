package corpus

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
)

// sampleDoc is the shape of a sample corpus document.
type sampleDoc struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Body   string `json:"body"`
	Pkg    string `json:"pkg"`
	Kind   string `json:"kind"`
	Source string `json:"source"`
	Words  *int   `json:"words"`
	Length *int   `json:"length"`
}

// sampleDocs decodes the whole sample corpus.
func sampleDocs(t testing.TB) ([]sampleDoc, []Doc) {
	t.Helper()
	raw := readAll(t, NewReader(Sample(), ReaderOptions{}))
	docs := make([]sampleDoc, len(raw))
	for i, d := range raw {
		if d.Err != nil {
			t.Fatalf("sample line %d: %v", d.Line, d.Err)
		}
		if err := json.Unmarshal(d.Body, &docs[i]); err != nil {
			t.Fatalf("sample line %d: %v", d.Line, err)
		}
	}
	return docs, raw
}

func TestSample(t *testing.T) {
	docs, _ := sampleDocs(t)
	if len(docs) < 3000 {
		t.Fatalf("sample has %d docs, want at least 3000", len(docs))
	}
	kinds := map[string]int{}
	seen := make(map[string]bool, len(docs))
	for i, d := range docs {
		if seen[d.ID] {
			t.Errorf("duplicate id %q", d.ID)
		}
		seen[d.ID] = true
		if i > 0 && docs[i-1].ID >= d.ID {
			t.Errorf("ids not sorted: %q before %q", docs[i-1].ID, d.ID)
		}
		for _, c := range []byte(d.ID) {
			if c <= ' ' || c > '~' {
				t.Errorf("id %q is not printable ASCII without spaces", d.ID)
				break
			}
		}
		if !strings.HasPrefix(d.ID, "go:"+d.Pkg) || d.Title == "" || d.Body == "" || d.Source != "go-stdlib" {
			t.Errorf("malformed doc %+v", d)
		}
		if d.Words == nil || d.Length == nil || *d.Words != len(strings.Fields(d.Body)) || *d.Length != len([]rune(d.Body)) {
			t.Errorf("%s: words/length do not match body", d.ID)
		}
		kinds[d.Kind]++
	}
	for _, k := range []string{"package", "func", "method", "type", "const", "var"} {
		if kinds[k] == 0 {
			t.Errorf("no documents of kind %q", k)
		}
	}
	if len(kinds) != 6 {
		t.Errorf("unexpected kinds: %v", kinds)
	}
	if !seen["go:net/http.Client.Do"] || !seen["go:net/http"] {
		t.Error("well-known documents go:net/http and go:net/http.Client.Do are missing")
	}
	t.Logf("%d documents, %d compressed bytes, kinds %v", len(docs), len(sampleGz), kinds)
}

func TestSampleMapping(t *testing.T) {
	m := SampleMapping()
	if err := m.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if m.ScoringModel != "bm25" {
		t.Errorf("ScoringModel = %q, want bm25", m.ScoringModel)
	}
	if !m.DefaultMapping.Dynamic {
		t.Error("default mapping is not dynamic")
	}
	// The mapping must survive a JSON round trip, as it travels between nodes.
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back mapping.IndexMappingImpl
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("unmarshal mapping: %v", err)
	}
	if err := back.Validate(); err != nil {
		t.Fatalf("round-tripped mapping: %v", err)
	}
	if SampleMapping() == m {
		t.Error("SampleMapping returned a shared value")
	}
}

func TestSampleFacets(t *testing.T) {
	f := SampleFacets()
	if f["kind"] != (FacetDef{Field: "kind", Size: 10}) || f["pkg"] != (FacetDef{Field: "pkg", Size: 10}) || len(f) != 2 {
		t.Errorf("SampleFacets = %v", f)
	}
	data, _ := json.Marshal(f["kind"])
	if string(data) != `{"field":"kind","size":10}` {
		t.Errorf("FacetDef JSON = %s", data)
	}
}

func TestSampleIndex(t *testing.T) {
	_, raw := sampleDocs(t)
	idx, err := bleve.NewMemOnly(SampleMapping())
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()

	// Index a slice of the corpus: everything from a few packages plus an
	// even spread of the rest keeps the test fast under -race.
	batch := idx.NewBatch()
	indexed := 0
	for i, d := range raw {
		var fields map[string]any
		if err := json.Unmarshal(d.Body, &fields); err != nil {
			t.Fatal(err)
		}
		pkg := fields["pkg"].(string)
		if pkg != "net/http" && pkg != "strings" && pkg != "sort" && i%25 != 0 {
			continue
		}
		if err := batch.Index(d.ID, fields); err != nil {
			t.Fatal(err)
		}
		indexed++
	}
	if err := idx.Batch(batch); err != nil {
		t.Fatal(err)
	}

	search := func(q string) *bleve.SearchResult {
		t.Helper()
		req := bleve.NewSearchRequestOptions(bleve.NewQueryStringQuery(q), 10, 0, false)
		req.Fields = []string{"pkg", "kind", "title"}
		req.Highlight = bleve.NewHighlight()
		for name, f := range SampleFacets() {
			req.AddFacet(name, bleve.NewFacetRequest(f.Field, f.Size))
		}
		res, err := idx.Search(req)
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		return res
	}

	res := search("http")
	if res.Total == 0 {
		t.Fatalf("no hits for http among %d docs", indexed)
	}
	httpHits := 0
	for _, h := range res.Hits {
		if h.Fields["pkg"] == "net/http" {
			httpHits++
		}
	}
	if httpHits == 0 {
		t.Errorf("no net/http document in the top hits for http: %v", res.Hits)
	}
	if len(res.Hits[0].Fragments) == 0 {
		t.Errorf("top hit %s has no highlight fragments", res.Hits[0].ID)
	}
	kind := res.Facets["kind"]
	if kind == nil || kind.Terms == nil || len(kind.Terms.Terms()) == 0 {
		t.Fatalf("kind facet has no buckets: %+v", kind)
	}
	for _, b := range kind.Terms.Terms() {
		switch b.Term {
		case "package", "func", "method", "type", "const", "var":
		default:
			t.Errorf("unexpected kind bucket %q (keyword field analysed?)", b.Term)
		}
	}
	if pkg := res.Facets["pkg"]; pkg == nil || len(pkg.Terms.Terms()) == 0 || pkg.Terms.Terms()[0].Term != "net/http" {
		t.Errorf("pkg facet does not lead with net/http: %+v", pkg)
	}

	// Keyword and numeric fields are queryable, and English stemming applies
	// to the default field.
	if res := search(`+kind:method +pkg:"net/http" +words:>=10`); res.Total == 0 {
		t.Error("no net/http methods found with a fielded query")
	}
	if res := search("sorting"); res.Total == 0 {
		t.Error(`"sorting" does not match documents about sorts/sorted (stemming)`)
	}
}

func TestSampleIsReadableTwice(t *testing.T) {
	a, _ := io.ReadAll(Sample())
	b, _ := io.ReadAll(Sample())
	if len(a) == 0 || string(a) != string(b) {
		t.Fatal("Sample readers are not independent")
	}
	if _, err := NewReader(Sample(), ReaderOptions{}).Next(); errors.Is(err, io.EOF) || err != nil {
		t.Fatalf("first sample doc: %v", err)
	}
}
