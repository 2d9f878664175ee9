package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shoal-search/shoal/internal/testwait"
)

// bulkAnswer is what the test reads of a bulk answer, success or error.
type bulkAnswer struct {
	Indexed  int    `json:"indexed"`
	Failed   int    `json:"failed"`
	IndexUID string `json:"index_uid"`
	Errors   []struct {
		Type      string `json:"type"`
		Retryable bool   `json:"retryable"`
	} `json:"errors"`
	Error *struct {
		Type string `json:"type"`
	} `json:"error"`
}

// account adds up a bulk load: documents reported indexed per index
// incarnation, and failures per type.
type account struct {
	mu      sync.Mutex
	indexed map[string]int // by index_uid
	failed  map[string]int // by failure type
	other   []string       // answers the test did not expect
}

func (a *account) add(status int, raw []byte, docs int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b bulkAnswer
	if err := json.Unmarshal(raw, &b); err != nil {
		a.other = append(a.other, fmt.Sprintf("%d %.200s", status, raw))
		return
	}
	if status == http.StatusNotFound && b.Error != nil && b.Indexed == 0 && b.Failed == 0 {
		// The index was gone before the request was read: nothing of it
		// was written.
		a.failed["index_not_found"] += docs
		return
	}
	a.indexed[b.IndexUID] += b.Indexed
	for _, e := range b.Errors {
		a.failed[e.Type]++
		if e.Retryable {
			a.other = append(a.other, fmt.Sprintf("retryable failure %q in a %d answer", e.Type, status))
		}
	}
}

// TestIndexDeletedDuringBulk: a 50,000-document bulk into an index that is
// deleted, or deleted and created again, part way through. Every document
// is accounted for exactly: reported indexed into one incarnation, or
// failed as not found / replaced (never retryable); the new incarnation
// holds exactly what was reported indexed into it, and nothing meant for
// the old one.
func TestIndexDeletedDuringBulk(t *testing.T) {
	skipShort(t)
	c := StartCluster(t, shoalBin, Options{Searchers: 2, HealAfter: -1})
	bodies, ids := syntheticBatches(t, 9, 50000, 1000)
	for _, recreate := range []bool{false, true} {
		name := map[bool]string{false: "delete", true: "delete-and-recreate"}[recreate]
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			index := "race-" + name
			createIndex(ctx, t, c.Client, index, 4, 1)
			c.WaitReady(ctx, t)
			acc := &account{indexed: map[string]int{}, failed: map[string]int{}}
			var wg sync.WaitGroup
			next := make(chan int)
			for range 2 { // two requests in flight, as `shoal index` sends
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						st, raw := c.doRaw(ctx, t, "POST", "/v1/indexes/"+index+"/bulk", string(bodies[i]))
						acc.add(st, raw, len(ids[i]))
					}
				}()
			}
			go func() {
				defer close(next)
				for i := range bodies {
					next <- i
				}
			}()
			time.Sleep(400 * time.Millisecond) // the load is under way
			if st, raw := c.doRaw(ctx, t, "DELETE", "/v1/indexes/"+index, ""); st != http.StatusOK {
				t.Fatalf("delete: %d %s", st, raw)
			}
			newUID := ""
			if recreate {
				st, raw := c.doRaw(ctx, t, "PUT", "/v1/indexes/"+index, `{"shards":4}`)
				if st != http.StatusCreated {
					t.Fatalf("re-create: %d %s", st, raw)
				}
				newUID = indexUID(ctx, t, c, index)
			}
			wg.Wait()
			if len(acc.other) > 0 {
				t.Fatalf("unexpected answers: %v", acc.other)
			}
			total := acc.failed["index_not_found"] + acc.failed["index_replaced"]
			for _, n := range acc.indexed {
				total += n
			}
			t.Logf("indexed by incarnation %v, failed %v", acc.indexed, acc.failed)
			if total != 50000 || len(acc.failed) > 2 {
				t.Fatalf("account of 50,000 documents: indexed %v, failed %v", acc.indexed, acc.failed)
			}
			if !recreate {
				if st, _ := c.doRaw(ctx, t, "GET", "/v1/indexes/"+index, ""); st != http.StatusNotFound {
					t.Fatalf("deleted index answers %d", st)
				}
				return
			}
			want := uint64(acc.indexed[newUID])
			testwait.For(t, time.Minute, 100*time.Millisecond, func() error {
				st, raw := c.doRaw(ctx, t, "GET", "/v1/indexes/"+index+"/search?q=*&size=0&allow_partial=false", "")
				var res struct {
					TotalHits uint64 `json:"total_hits"`
				}
				if st != http.StatusOK || json.Unmarshal(raw, &res) != nil {
					return fmt.Errorf("search of the new index: %d %.200s", st, raw)
				}
				if res.TotalHits != want {
					return fmt.Errorf("the new index holds %d documents, %d were reported indexed into it", res.TotalHits, want)
				}
				return nil
			})
		})
	}
}

// indexUID reads an index's uid from GET /v1/indexes/{index}.
func indexUID(ctx context.Context, t testing.TB, c *Cluster, index string) string {
	t.Helper()
	st, raw := c.doRaw(ctx, t, "GET", "/v1/indexes/"+index, "")
	var info struct {
		UID string `json:"uid"`
	}
	if st != http.StatusOK || json.Unmarshal(raw, &info) != nil || info.UID == "" {
		t.Fatalf("index %s: %d %s", index, st, raw)
	}
	return info.UID
}
