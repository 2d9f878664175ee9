package searcher

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/shoal-search/shoal/protocol"
)

// TestSearchLocationsOnlyWhenAsked: a phrase collects term locations on
// its hits; a shard's answer carries them only when the request asks for
// them (they cost every phrase query a JSON round trip otherwise).
func TestSearchLocationsOnlyWhenAsked(t *testing.T) {
	sh, err := OpenShard(filepath.Join(t.TempDir(), "shard"), defaultMapping(t), ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	var ws []Write
	for i, body := range []string{"the river bank", "a river bank at dusk", "bank of the river"} {
		doc, _ := json.Marshal(map[string]any{"body": body})
		ws = append(ws, Write{Seq: uint64(i + 1), Op: protocol.OpPut, ID: fmt.Sprint("d", i), Doc: doc})
	}
	if _, err := sh.Apply(t.Context(), ws); err != nil {
		t.Fatal(err)
	}
	phrase := query.NewMatchPhraseQuery("river bank")
	phrase.SetField("body")
	tests := []struct {
		name      string
		q         query.Query
		locations bool
	}{
		{"phrase", phrase, false},
		{"phrase, locations asked", phrase, true},
		{"query string phrase", query.NewQueryStringQuery(`"river bank"`), false},
		{"term, locations asked", query.NewTermQuery("river"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := bleve.NewSearchRequestOptions(tt.q, 10, 0, false)
			req.IncludeLocations = tt.locations
			res, err := sh.Search(t.Context(), req, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Hits) < 2 {
				t.Fatalf("%d hits, want at least 2", len(res.Hits))
			}
			for _, h := range res.Hits {
				if got := len(h.Locations) > 0; got != tt.locations {
					t.Errorf("hit %s: locations %v, want %v", h.ID, h.Locations, tt.locations)
				}
			}
		})
	}
}
