package searcher_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// TestNodeSearch asks a real searcher node (embedded NATS, Bleve on disk)
// for a mix of shards it holds and does not hold: it answers the ones it
// serves, merged, and says CodeNotHere for the others.
func TestNodeSearch(t *testing.T) {
	const index, shards, docs = "nodes", 4, 40
	c := testcluster.Start(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := client.New(c.URL())
	if err := cl.CreateIndex(ctx, index, client.IndexSettings{Shards: shards}); err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	perShard := make([]uint64, shards)
	for i := range docs {
		id := fmt.Sprintf("d%02d", i)
		perShard[meta.ShardOf(id, shards)]++
		fmt.Fprintf(&body, `{"id":%q,"body":"common text %d"}`+"\n", id, i)
	}
	if res, err := cl.Bulk(ctx, index, []byte(body.String()), true); err != nil || res.Indexed != docs {
		t.Fatalf("bulk: %+v %v", res, err)
	}
	info, err := cl.GetIndex(ctx, index)
	if err != nil {
		t.Fatal(err)
	}
	def, err := c.Frontend.Catalog.Index(index)
	if err != nil {
		t.Fatal(err)
	}
	node := info.ShardStats[0].Node
	var held, elsewhere []int
	for _, st := range info.ShardStats {
		if st.Node == node {
			held = append(held, st.Shard)
		} else {
			elsewhere = append(elsewhere, st.Shard)
		}
	}
	if len(held) == 0 || len(elsewhere) == 0 {
		t.Fatalf("placement %+v: want shards on both nodes", info.ShardStats)
	}

	nc := testcluster.Connect(t, c, broker.RoleAdmin, "")
	req, _ := json.Marshal(map[string]any{"query": map[string]any{"match": "common", "field": "body"}, "size": docs})
	tests := []struct {
		name   string
		uid    string
		shards []int
		served []int // the shards that must answer; the others CodeNotHere
	}{
		{"held", def.UID, held, held},
		{"held and elsewhere", def.UID, append(append([]int{}, elsewhere...), held...), held},
		{"no such shard", def.UID, []int{held[0], 99}, held[:1]},
		{"other index identity", "not-" + def.UID, held, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nr := protocol.NodeSearchRequest{Index: index, UID: tt.uid, Shards: tt.shards, Request: req, Timeout: 10 * time.Second}
			payload, err := nr.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := nc.RequestWithContext(ctx, protocol.NodeSubject(node, protocol.OpSearch), payload)
			if err != nil {
				t.Fatal(err)
			}
			var r protocol.SearchReply
			if err := protocol.DecodeReply(msg, &r); err != nil {
				t.Fatal(err)
			}
			if r.Node != node || len(r.Shards) != len(tt.shards) {
				t.Fatalf("node %q, %d statuses; want %q, %d", r.Node, len(r.Shards), node, len(tt.shards))
			}
			var want uint64
			for i, st := range r.Shards {
				serves := slices.Contains(tt.served, st.Shard)
				switch {
				case st.Shard != tt.shards[i]:
					t.Errorf("status %d is for shard %d, want %d", i, st.Shard, tt.shards[i])
				case serves && (st.Code != 0 || st.AppliedSeq == 0):
					t.Errorf("shard %d: code %d (%s), applied %d; want an answer", st.Shard, st.Code, st.Error, st.AppliedSeq)
				case !serves && st.Code != protocol.CodeNotHere:
					t.Errorf("shard %d: code %d; want %d (not here)", st.Shard, st.Code, protocol.CodeNotHere)
				}
				if serves {
					want += perShard[st.Shard]
				}
			}
			if r.Result.Total != want || len(r.Result.Hits) != int(want) {
				t.Errorf("merged total %d, %d hits; want %d from shards %v", r.Result.Total, len(r.Result.Hits), want, tt.served)
			}
			for _, h := range r.Result.Hits {
				if !slices.Contains(tt.served, meta.ShardOf(h.ID, shards)) {
					t.Errorf("hit %s from shard %d, which was not served", h.ID, meta.ShardOf(h.ID, shards))
				}
			}
		})
	}
}
