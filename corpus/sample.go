package corpus

import (
	"bytes"
	_ "embed" // for the sample corpus
	"io"

	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/mapping"
)

// bm25ScoringModel is bleve's name for BM25 scoring (BM25Scoring in
// github.com/blevesearch/bleve_index_api); spelled out here so that the
// corpus package does not depend on that module directly.
const bm25ScoringModel = "bm25"

// sampleGz is the built-in sample corpus, produced by go generate (see
// internal/gensample). Each line is an object with the fields id, title,
// body, pkg, kind, source, words and length.
//
//go:embed sample.jsonl.gz
var sampleGz []byte

// Sample returns the built-in sample corpus: gzip-compressed JSON Lines,
// one document per documented package and exported declaration of the Go
// standard library (about five thousand documents; see SAMPLE_LICENSE).
// Each call returns an independent reader positioned at the start.
//
// The data is gzip-compressed; [NewReader] decompresses it transparently,
// so corpus.NewReader(corpus.Sample(), corpus.ReaderOptions{}) reads the
// documents directly. Each document has these fields:
//
//	id      "go:net/http.Client.Do"  stable, ASCII, no spaces
//	title   "http.Client.Do"
//	body    doc comment as plain text, then the declaration
//	pkg     "net/http"                import path
//	kind    "package", "func", "method", "type", "const" or "var"
//	source  "go-stdlib"
//	words   number of words in body
//	length  number of characters (code points) in body
func Sample() io.Reader { return bytes.NewReader(sampleGz) }

// SampleMapping returns a new bleve index mapping suited to the [Sample]
// corpus (and to [Synthetic] data, which uses a subset of its fields):
//
//   - title and body: text analysed with the "en" analyzer, stored, with
//     term vectors for highlighting, included in the default (_all) field;
//   - pkg, kind, source and id: single-term keyword fields, stored, with
//     doc values for term facets and sorting and term vectors so that
//     quoted values such as pkg:"net/http" match, not in _all;
//   - words and length: numeric fields, stored, with doc values for range
//     facets and sorting.
//
// Scoring uses BM25 and the default analyzer is "en", so plain query
// strings, which search _all, are analysed like title and body. Fields not
// listed above are still indexed and stored dynamically. The caller owns the
// returned mapping and may modify it.
func SampleMapping() *mapping.IndexMappingImpl {
	text := func() *mapping.FieldMapping {
		fm := mapping.NewTextFieldMapping()
		fm.Analyzer = en.AnalyzerName
		fm.Store = true
		fm.IncludeTermVectors = true
		fm.IncludeInAll = true
		return fm
	}
	kw := func() *mapping.FieldMapping {
		fm := mapping.NewKeywordFieldMapping()
		fm.Analyzer = keyword.Name
		fm.Store = true
		fm.DocValues = true
		fm.IncludeTermVectors = true // lets quoted values (pkg:"net/http") match as phrases
		fm.IncludeInAll = false
		return fm
	}
	num := func() *mapping.FieldMapping {
		fm := mapping.NewNumericFieldMapping()
		fm.Store = true
		fm.DocValues = true
		fm.IncludeInAll = false
		return fm
	}

	doc := mapping.NewDocumentMapping() // Dynamic: other fields are still indexed
	doc.AddFieldMappingsAt("title", text())
	doc.AddFieldMappingsAt("body", text())
	for _, name := range []string{"id", "pkg", "kind", "source"} {
		doc.AddFieldMappingsAt(name, kw())
	}
	doc.AddFieldMappingsAt("words", num())
	doc.AddFieldMappingsAt("length", num())

	im := mapping.NewIndexMapping()
	im.DefaultMapping = doc
	im.DefaultAnalyzer = en.AnalyzerName
	im.ScoringModel = bm25ScoringModel
	return im
}

// FacetDef describes a term facet to request alongside search results.
type FacetDef struct {
	// Field is the indexed field whose terms are counted.
	Field string `json:"field"`
	// Size is the maximum number of buckets to return.
	Size int `json:"size"`
}

// SampleFacets returns the facets the search page shows by default for the
// [Sample] corpus, keyed by facet name. The caller owns the returned map.
func SampleFacets() map[string]FacetDef {
	return map[string]FacetDef{
		"kind": {Field: "kind", Size: 10},
		"pkg":  {Field: "pkg", Size: 10},
	}
}
