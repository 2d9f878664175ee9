package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/shoal-search/shoal/client"
)

type clusterNode struct {
	Node string `json:"node"`
	Live bool   `json:"live"`
}

func liveNodes(ctx context.Context, o opts) ([]string, error) {
	code, body, err := o.get(ctx, o.url+"/v1/cluster")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/cluster: %d", code)
	}
	var ci struct {
		Nodes []clusterNode `json:"nodes"`
	}
	if err := json.Unmarshal(body, &ci); err != nil {
		return nil, err
	}
	var out []string
	for _, n := range ci.Nodes {
		if n.Live {
			out = append(out, n.Node)
		}
	}
	return out, nil
}

func ready(ctx context.Context, o opts) error {
	took, err := waitFor(ctx, o.timeout, "ready", func() (bool, string) {
		code, body, err := o.get(ctx, o.url+"/readyz")
		if err != nil {
			return false, err.Error()
		}
		if code != http.StatusOK {
			return false, fmt.Sprintf("/readyz %d %s", code, body)
		}
		live, err := liveNodes(ctx, o)
		if err != nil {
			return false, err.Error()
		}
		return len(live) >= o.nodes, fmt.Sprintf("live searchers %v", live)
	})
	if err != nil {
		return err
	}
	fmt.Printf("ready after %v\n", took.Round(time.Millisecond))
	return nil
}

// placement returns the nodes of each shard and the shards of each node.
func placement(ctx context.Context, o opts) (*client.IndexInfo, map[int][]string, map[string][]int, error) {
	info, err := o.c.GetIndex(ctx, o.index)
	if err != nil {
		return nil, nil, nil, err
	}
	byShard, byNode := map[int][]string{}, map[string][]int{}
	for _, st := range info.ShardStats {
		if st.Node != "" {
			byShard[st.Shard] = append(byShard[st.Shard], st.Node)
			byNode[st.Node] = append(byNode[st.Node], st.Shard)
		}
	}
	return info, byShard, byNode, nil
}

// pick prints two searchers that share as few shards as possible (none
// when placement allows), the one with more copies first: killing the
// first and cutting off the second still leaves a copy of every shard.
func pick(ctx context.Context, o opts) error {
	_, byShard, byNode, err := placement(ctx, o)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(byNode))
	for n := range byNode {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 2 {
		return fmt.Errorf("need two nodes holding shards, have %v", names)
	}
	shared := func(a, b string) int {
		k := 0
		for _, nodes := range byShard {
			if slices.Contains(nodes, a) && slices.Contains(nodes, b) {
				k++
			}
		}
		return k
	}
	bestA, bestB, best := "", "", -1
	for _, a := range names {
		for _, b := range names {
			if a == b {
				continue
			}
			if k := shared(a, b); best < 0 || k < best || (k == best && len(byNode[a]) > len(byNode[bestA])) {
				bestA, bestB, best = a, b, k
			}
		}
	}
	fmt.Fprintf(os.Stderr, "placement %v: %s and %s share %d shards\n", byNode, bestA, bestB, best)
	fmt.Println(bestA, bestB)
	return nil
}

// healed waits until every shard has its full number of live, caught-up
// copies, none on o.without.
func healed(ctx context.Context, o opts) error {
	took, err := waitFor(ctx, o.timeout, "every shard fully replicated without "+o.without, func() (bool, string) {
		info, err := o.c.GetIndex(ctx, o.index)
		if err != nil {
			return false, err.Error()
		}
		per := map[int]int{}
		for _, st := range info.ShardStats {
			if st.Node == o.without {
				return false, fmt.Sprintf("shard %d still placed on %s", st.Shard, st.Node)
			}
			if st.CaughtUp {
				per[st.Shard]++
			}
		}
		for s := 0; s < info.Shards; s++ {
			if per[s] < info.Replicas {
				return false, fmt.Sprintf("shard %d has %d caught-up copies", s, per[s])
			}
		}
		return true, ""
	})
	if err != nil {
		return err
	}
	fmt.Printf("every shard has all its copies again, none on %s, %v after the check started\n", o.without, took.Round(time.Millisecond))
	return nil
}
