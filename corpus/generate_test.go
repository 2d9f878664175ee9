package corpus

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestSynthetic(t *testing.T) {
	var a, b, c bytes.Buffer
	if err := Synthetic(42, 200, &a); err != nil {
		t.Fatal(err)
	}
	// Building the model takes a while under -race; reuse one for the rest.
	m, err := newSynModel()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.write(42, 50, &b); err != nil {
		t.Fatal(err)
	}
	if err := m.write(43, 50, &c); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := m.write(1, 100, failingWriter{boom}); !errors.Is(err, boom) {
		t.Errorf("write error not reported: %v", err)
	}
	if !bytes.HasPrefix(a.Bytes(), b.Bytes()) {
		t.Error("output for a seed is not deterministic (or depends on n)")
	}
	if bytes.Equal(b.Bytes(), c.Bytes()[:min(b.Len(), c.Len())]) {
		t.Error("different seeds gave the same output")
	}

	docs := readAll(t, NewReader(&a, ReaderOptions{}))
	if len(docs) != 200 {
		t.Fatalf("got %d documents, want 200", len(docs))
	}
	kinds := map[string]int{}
	words := map[string]int{}
	total := 0
	for i, d := range docs {
		if d.Err != nil {
			t.Fatalf("line %d: %v", d.Line, d.Err)
		}
		var doc struct {
			ID    string `json:"id"`
			Title string `json:"title"`
			Body  string `json:"body"`
			Kind  string `json:"kind"`
			Words int    `json:"words"`
		}
		if err := json.Unmarshal(d.Body, &doc); err != nil {
			t.Fatal(err)
		}
		if i == 0 && doc.ID != "syn-0000000" {
			t.Errorf("first id = %q", doc.ID)
		}
		fields := strings.Fields(doc.Body)
		if doc.Title == "" || doc.Words != len(fields) || doc.Words < synMinBodyWords {
			t.Errorf("%s: title %q, words %d, body has %d words", doc.ID, doc.Title, doc.Words, len(fields))
		}
		kinds[doc.Kind]++
		for _, w := range fields {
			words[strings.ToLower(strings.Trim(w, "."))]++
			total++
		}
	}
	if len(kinds) < 3 {
		t.Errorf("kinds are not varied: %v", kinds)
	}
	// Zipf: a handful of words dominate, and "the" is among the commonest.
	if words["the"] < total/50 {
		t.Errorf(`"the" occurs %d times in %d words; not English-like`, words["the"], total)
	}
	if len(words) < 500 {
		t.Errorf("only %d distinct words in %d", len(words), total)
	}
}

func TestSyntheticEdgeCases(t *testing.T) {
	var buf bytes.Buffer
	if err := Synthetic(1, 0, &buf); err != nil || buf.Len() != 0 {
		t.Errorf("n=0: %v, %d bytes", err, buf.Len())
	}
	if err := Synthetic(1, -1, &buf); err == nil {
		t.Error("n=-1 succeeded")
	}
}

// failingWriter fails every write with err.
type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }
