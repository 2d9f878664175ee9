package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/shoal-search/shoal/corpus"
	"github.com/shoal-search/shoal/meta"
)

// doc is one corpus document: its id and its JSON object (which holds the
// id under "id").
type doc struct {
	ID   string
	Body json.RawMessage
}

// loadDocs reads up to limit documents (0: all) from the JSON Lines corpus
// at path, or from the built-in sample corpus when path is empty. Lines
// that are not documents are skipped; a repeated id keeps its first
// document, so that every engine holds exactly the same set.
func loadDocs(path string, limit int) ([]doc, error) {
	var r io.Reader = corpus.Sample()
	if path != "" {
		f, err := corpus.Open(path)
		if err != nil {
			return nil, fmt.Errorf("bench: corpus: %w", err)
		}
		defer f.Close()
		r = f
	}
	cr := corpus.NewReader(r, corpus.ReaderOptions{})
	seen := map[string]bool{}
	var docs []doc
	for limit <= 0 || len(docs) < limit {
		d, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bench: corpus: %w", err)
		}
		if d.Err != nil || seen[d.ID] {
			continue
		}
		seen[d.ID] = true
		docs = append(docs, doc{ID: d.ID, Body: d.Body})
	}
	if len(docs) == 0 {
		return nil, errors.New("bench: the corpus holds no documents")
	}
	return docs, nil
}

// mappingJSON is the index mapping every engine in the benchmark uses, in
// Bleve's JSON form: the sample corpus's own mapping, or for any other
// corpus Bleve's default (dynamic) mapping with BM25 scoring and the
// English analyzer.
func mappingJSON(sample bool) (json.RawMessage, error) {
	var m *mapping.IndexMappingImpl
	if sample {
		m = corpus.SampleMapping()
	} else {
		m = bleve.NewIndexMapping()
		m.DefaultAnalyzer = en.AnalyzerName
		m.ScoringModel = "bm25"
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("bench: encode mapping: %w", err)
	}
	return raw, nil
}

// buildMapping is the mapping a Shoal shard builds from raw; the plain
// Bleve indexes are created with the very same one.
func buildMapping(raw json.RawMessage) (*mapping.IndexMappingImpl, error) {
	m, err := meta.BuildMapping(raw)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return m, nil
}

// readQueries reads one bleve query string per line; blank lines and lines
// starting with '#' are skipped.
func readQueries(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: queries: %w", err)
	}
	defer f.Close()
	var qs []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		q := strings.TrimSpace(sc.Text())
		if q == "" || strings.HasPrefix(q, "#") {
			continue
		}
		qs = append(qs, q)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: queries %s: %w", path, err)
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("bench: queries %s: no queries", path)
	}
	return qs, nil
}

// querySeed makes the derived query set the same on every run.
const querySeed = 20240605

// deriveQueries builds n distinct query strings from words of the documents,
// with a fixed seed: 40% single words, 25% two words, 15% quoted phrases of
// two adjacent words, 10% prefixes (word*) and 10% fuzzy words (word~1).
func deriveQueries(docs []doc, n int) []string {
	rng := rand.New(rand.NewPCG(querySeed, uint64(len(docs))))
	seen := map[string]bool{}
	var out []string
	for tries := 0; len(out) < n && tries < 50*n; tries++ {
		words := docWords(docs[rng.IntN(len(docs))].Body)
		if len(words) < 2 {
			continue
		}
		w := words[rng.IntN(len(words))]
		var q string
		switch k := rng.IntN(100); {
		case k < 40:
			if !w.stop {
				q = w.text
			}
		case k < 65:
			v := words[rng.IntN(len(words))]
			if !w.stop && !v.stop && v.text != w.text {
				q = w.text + " " + v.text
			}
		case k < 80:
			i := rng.IntN(len(words) - 1)
			a, b := words[i], words[i+1]
			if !a.stop && !b.stop && b.pos == a.pos+1 {
				q = `"` + a.text + " " + b.text + `"`
			}
		case k < 90:
			if !w.stop && len(w.text) >= 6 {
				q = w.text[:max(4, len(w.text)-3)] + "*"
			}
		default:
			if !w.stop && len(w.text) >= 5 {
				q = w.text + "~1"
			}
		}
		if q != "" && !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	return out
}

// word is a plain lower-case word of a document, with its position among
// the whitespace-separated tokens of its text.
type word struct {
	text string
	pos  int
	stop bool
}

// docWords extracts plain words (3 to 20 ASCII letters) from a document's
// body, or from its title, or else from all its string fields.
func docWords(body json.RawMessage) []word {
	var fields map[string]any
	if json.Unmarshal(body, &fields) != nil {
		return nil
	}
	var text string
	for _, name := range []string{"body", "title"} {
		if s, ok := fields[name].(string); ok && s != "" {
			text = s
			break
		}
	}
	if text == "" {
		var b strings.Builder
		for k, v := range fields {
			if s, ok := v.(string); ok && k != "id" {
				b.WriteString(s)
				b.WriteByte(' ')
			}
		}
		text = b.String()
	}
	var out []word
	for pos, tok := range strings.Fields(text) {
		tok = strings.Trim(tok, `.,;:!?()[]{}"'`)
		if len(tok) < 3 || len(tok) > 20 || !isLetters(tok) {
			continue
		}
		tok = strings.ToLower(tok)
		out = append(out, word{text: tok, pos: pos, stop: stopWords[tok]})
	}
	return out
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// stopWords are not chosen as query words on their own: the English
// analyzer drops them.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`the and for with that this from are was were not but have has had
		its into than then them they their there these those which what when where who whom will would
		can could should may might must been being our out any all one you your his her she him also such
		more most other some only own same very just over under about after before between both each few
		how off once here why does did doing because until while again further`) {
		m[w] = true
	}
	return m
}()
