package searcher

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-search/shoal/protocol"
)

// TestTermTableCountsLikeTheTermReader writes documents in several
// batches (several segments), updates and deletes some (deleted documents
// left in their segments), and checks that the term table of every field
// holds exactly the terms some live document has, each with the document
// count Bleve's term reader reports: the figure BM25 scores with.
func TestTermTableCountsLikeTheTermReader(t *testing.T) {
	m := defaultMapping(t)
	s, err := OpenShard(filepath.Join(t.TempDir(), "s"), m, ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 1))
	word := func() string { return fmt.Sprintf("w%d", int(math.Pow(5000, rng.Float64()))) } // many words in one document only
	seq := uint64(0)
	for batch := range 6 {
		var ws []Write
		for i := range 300 {
			seq++
			id := fmt.Sprintf("d%d", rng.IntN(1200)) // ids again: updates
			if batch > 2 && i%10 == 0 {
				ws = append(ws, Write{Seq: seq, Op: protocol.OpDelete, ID: id})
				continue
			}
			var body []string
			for range 1 + rng.IntN(12) {
				body = append(body, word())
			}
			doc, _ := json.Marshal(map[string]any{"title": word(), "body": strings.Join(body, " "), "n": rng.IntN(100)})
			ws = append(ws, Write{Seq: seq, Op: protocol.OpPut, ID: id, Doc: doc})
		}
		if _, err := s.Apply(t.Context(), ws); err != nil {
			t.Fatal(err)
		}
	}
	fields := []string{"_all", "title", "body", "n"}
	resp, err := s.Presearch(context.Background(), nil, fields, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	if resp.AppliedSeq != seq {
		t.Errorf("applied seq %d, want %d", resp.AppliedSeq, seq)
	}
	adv, _ := s.idx.Advanced()
	r, err := adv.Reader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	t.Logf("%d segments", s.Segments())
	for _, f := range fields {
		tt, err := protocol.DecodeTermTable(resp.Tables[f])
		if err != nil {
			t.Fatal(err)
		}
		dict, err := r.FieldDict(f)
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for {
			e, err := dict.Next()
			if err != nil {
				t.Fatal(err)
			}
			if e == nil {
				break
			}
			term := strings.Clone(e.Term)
			tfr, err := r.TermFieldReader(context.Background(), []byte(term), f, false, false, false)
			if err != nil {
				t.Fatal(err)
			}
			n := tfr.Count()
			tfr.Close()
			if n > 0 {
				live++
			}
			if got := tt.Count(protocol.TermHash(term)); uint64(got) != n {
				t.Fatalf("%s %q: table counts %d documents, the term reader %d", f, term, got, n)
			}
		}
		dict.Close()
		if tt.Len() != live {
			t.Errorf("%s: table of %d terms, %d terms have live documents", f, tt.Len(), live)
		}
	}
	// The table is kept for its sequence: asked again with what the
	// asker holds, it is not sent.
	again, err := s.Presearch(context.Background(), nil, fields, map[string]uint64{"_all": seq, "title": seq - 1}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again.Tables["_all"]; ok || again.Tables["title"] == nil {
		t.Errorf("tables sent again: %v", len(again.Tables))
	}
}
