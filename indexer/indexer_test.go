package indexer_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/shoal-search/shoal/indexer"
	"github.com/shoal-search/shoal/meta"
)

// TestShardOfUniform checks that sequential ids spread evenly: every shard
// gets within 10% of its fair share.
func TestShardOfUniform(t *testing.T) {
	const n = 20000
	for _, shards := range []int{2, 3, 8, 16} {
		counts := make([]int, shards)
		for i := 0; i < n; i++ {
			s := meta.ShardOf(fmt.Sprintf("doc-%d", i), shards)
			if s < 0 || s >= shards {
				t.Fatalf("ShardOf(doc-%d, %d) = %d out of range", i, shards, s)
			}
			counts[s]++
		}
		fair := n / shards
		for s, c := range counts {
			if c < fair*9/10 || c > fair*11/10 {
				t.Errorf("%d shards: shard %d got %d of %d ids (fair share %d): %v", shards, s, c, n, fair, counts)
			}
		}
	}
}

func TestParseDoc(t *testing.T) {
	long := strings.Repeat("x", indexer.MaxIDBytes+1)
	tests := []struct {
		name    string
		in      string
		wantID  string
		wantDel bool
		wantDoc string // compacted; "" when no document is expected
		wantErr string // substring; "" when no error is expected
	}{
		{name: "document", in: `{"id":"a","title":"River"}`, wantID: "a", wantDoc: `{"id":"a","title":"River"}`},
		{name: "compacted", in: "{ \"id\" : \"a\",\n \"n\" : [1, 2] }", wantID: "a", wantDoc: `{"id":"a","n":[1,2]}`},
		{name: "delete", in: `{"id":"a","_delete":true}`, wantID: "a", wantDel: true},
		{name: "delete false keeps the document", in: `{"id":"a","_delete":false,"x":1}`, wantID: "a", wantDoc: `{"id":"a","_delete":false,"x":1}`},
		{name: "unicode id", in: `{"id":"héllo wörld"}`, wantID: "héllo wörld", wantDoc: `{"id":"héllo wörld"}`},
		{name: "longest id", in: `{"id":"` + long[:indexer.MaxIDBytes] + `"}`, wantID: long[:indexer.MaxIDBytes], wantDoc: `{"id":"` + long[:indexer.MaxIDBytes] + `"}`},
		{name: "delete not boolean", in: `{"id":"a","_delete":"yes"}`, wantID: "a", wantErr: `"_delete" must be a boolean`},
		{name: "missing id", in: `{"title":"x"}`, wantErr: `no "id" field`},
		{name: "numeric id", in: `{"id":42}`, wantErr: `"id" must be a string`},
		{name: "null id", in: `{"id":null}`, wantErr: `"id"`},
		{name: "object id", in: `{"id":{"a":1}}`, wantErr: `"id" must be a string`},
		{name: "empty id", in: `{"id":""}`, wantErr: `must not be empty`},
		{name: "id too long", in: `{"id":"` + long + `"}`, wantID: long, wantErr: "longer than"},
		{name: "invalid JSON", in: `{"id":"a",`, wantErr: "invalid JSON object"},
		{name: "array", in: `[{"id":"a"}]`, wantErr: "invalid JSON object"},
		{name: "string", in: `"a"`, wantErr: "invalid JSON object"},
		{name: "null", in: `null`, wantErr: "must be a JSON object"},
		{name: "trailing data", in: `{"id":"a"} {"id":"b"}`, wantErr: "invalid JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := indexer.ParseDoc([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDoc(%s) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				if op.ID != tt.wantID {
					t.Errorf("ParseDoc(%s) id = %q, want %q", tt.in, op.ID, tt.wantID)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDoc(%s): %v", tt.in, err)
			}
			if op.ID != tt.wantID || op.Delete != tt.wantDel || string(op.Doc) != tt.wantDoc {
				t.Errorf("ParseDoc(%s) = {id %q delete %v doc %s}, want {id %q delete %v doc %s}",
					tt.in, op.ID, op.Delete, op.Doc, tt.wantID, tt.wantDel, tt.wantDoc)
			}
		})
	}
}

func TestParseNDJSON(t *testing.T) {
	body := strings.Join([]string{
		`{"id":"a","title":"one"}`,  // 1
		``,                          // 2: blank, skipped
		`{"id":"b",`,                // 3: invalid JSON
		`   `,                       // 4: blank
		`{"title":"no id"}`,         // 5: missing id
		`{"id":7}`,                  // 6: numeric id
		`{"id":"c","_delete":true}`, // 7
		"{\"id\":\"d\"}\r",          // 8: CRLF line end
		`{"id":"e"}`,                // 9: no final newline
	}, "\n")
	ops, bad, err := indexer.ParseNDJSON(strings.NewReader(body), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		Line int
		ID   string
		Del  bool
	}
	var gotOps []got
	for _, op := range ops {
		gotOps = append(gotOps, got{op.Line, op.ID, op.Delete})
	}
	wantOps := []got{{1, "a", false}, {7, "c", true}, {8, "d", false}, {9, "e", false}}
	if fmt.Sprint(gotOps) != fmt.Sprint(wantOps) {
		t.Errorf("ops = %v, want %v", gotOps, wantOps)
	}
	wantBad := []int{3, 5, 6}
	if len(bad) != len(wantBad) {
		t.Fatalf("errors = %+v, want lines %v", bad, wantBad)
	}
	for i, e := range bad {
		if e.Line != wantBad[i] || e.Err == "" {
			t.Errorf("error %d = %+v, want line %d with a reason", i, e, wantBad[i])
		}
	}
	if !json.Valid(ops[2].Doc) {
		t.Errorf("doc of line 8 is not valid JSON: %q", ops[2].Doc)
	}

	// A line longer than the limit stops the parse with an error naming it.
	long := `{"id":"x","t":"` + strings.Repeat("y", 200<<10) + `"}`
	_, _, err = indexer.ParseNDJSON(strings.NewReader(`{"id":"a"}`+"\n"+long+"\n"), 100<<10)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("over-long line: err = %v, want one naming line 2", err)
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"a", true},
		{"with space/and:colon", true},
		{strings.Repeat("é", indexer.MaxIDBytes/2), true},
		{"", false},
		{strings.Repeat("x", indexer.MaxIDBytes+1), false},
	}
	for _, tt := range tests {
		if err := indexer.ValidID(tt.id); (err == nil) != tt.ok {
			t.Errorf("ValidID(%.20q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
	}
}
