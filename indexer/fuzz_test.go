package indexer_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/shoal-search/shoal/indexer"
)

// FuzzParseNDJSON checks that no bulk body makes ParseNDJSON panic, that
// every non-blank line comes back either as an op or as an error (never
// both, never neither), and that line numbers are those of the body.
// Under plain `go test` only the seed corpus runs; `make fuzz` explores.
func FuzzParseNDJSON(f *testing.F) {
	for _, seed := range []string{
		"",
		"\n\n",
		`{"id":"a","title":"one"}`,
		"{\"id\":\"a\"}\n{\"id\":\"b\",\"_delete\":true}\n",
		"{\"id\":\"a\"}\r\n\r\n{\"id\":\"b\"}\r\n",
		"{\"id\":\"a\",\n\"x\":1}\n",
		`{"id":42}`,
		`{"id":null}`,
		`{"id":""}`,
		`{"title":"no id"}`,
		`{"id":"a","_delete":"yes"}`,
		`[1,2,3]`,
		`null`,
		`"just a string"`,
		"\xff\xfe{\"id\":\"a\"}",
		"{\"id\":\"\u00a0\"}\n\u00a0\n\u0085\n",
		`{"id":"a"}{"id":"b"}`,
		`{"id":"a","id":"b"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, bad, err := indexer.ParseNDJSON(bytes.NewReader(data), 1<<20)

		// The body's lines as bufio.ScanLines sees them.
		lines := bytes.Split(data, []byte("\n"))
		if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		blank := func(n int) bool { return len(bytes.TrimSpace(lines[n-1])) == 0 }

		seen := map[int]bool{}
		for _, op := range ops {
			if op.Line < 1 || op.Line > len(lines) {
				t.Fatalf("op line %d out of range 1..%d", op.Line, len(lines))
			}
			if seen[op.Line] {
				t.Fatalf("line %d reported twice", op.Line)
			}
			seen[op.Line] = true
			if blank(op.Line) {
				t.Fatalf("blank line %d became an op", op.Line)
			}
			if err := indexer.ValidID(op.ID); err != nil {
				t.Fatalf("line %d: op with invalid id %q: %v", op.Line, op.ID, err)
			}
			if op.Delete != (op.Doc == nil) {
				t.Fatalf("line %d: delete=%v with doc %q", op.Line, op.Delete, op.Doc)
			}
			if op.Doc != nil && !json.Valid(op.Doc) {
				t.Fatalf("line %d: doc is not valid JSON: %q", op.Line, op.Doc)
			}
		}
		for _, e := range bad {
			if e.Line < 1 || e.Line > len(lines) {
				t.Fatalf("error line %d out of range 1..%d", e.Line, len(lines))
			}
			if seen[e.Line] {
				t.Fatalf("line %d reported twice", e.Line)
			}
			seen[e.Line] = true
			if blank(e.Line) {
				t.Fatalf("blank line %d reported as an error", e.Line)
			}
			if e.Err == "" {
				t.Fatalf("line %d: error without a reason", e.Line)
			}
		}
		if err != nil {
			return // the parse stopped early; what it reported is checked
		}
		for n := 1; n <= len(lines); n++ {
			if !blank(n) && !seen[n] {
				t.Fatalf("non-blank line %d %q is neither an op nor an error", n, lines[n-1])
			}
		}
	})
}
