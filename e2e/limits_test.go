package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/internal/testwait"
)

// TestWritesDuringBrokerOutage: with the broker stopped, a PUT and a bulk
// answer 503 with Retry-After within their timeout, saying which documents
// are unconfirmed; nothing hangs for the length of the outage. Once the
// broker is back, the same writes succeed.
func TestWritesDuringBrokerOutage(t *testing.T) {
	skipShort(t)
	c := StartCluster(t, shoalBin, Options{Searchers: 1, HealAfter: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createIndex(ctx, t, c.Client, "outage", 2, 1)
	c.WaitReady(ctx, t)
	c.Broker.Stop(t)

	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, "PUT", c.URL+"/v1/indexes/outage/docs/d1?timeout=1s", strings.NewReader(`{"title":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || body["id"] != "d1" || body["retryable"] != true || took > 10*time.Second {
		t.Errorf("PUT during the outage: %d Retry-After %q %v after %v", resp.StatusCode, resp.Header.Get("Retry-After"), body, took)
	}

	start = time.Now()
	st, raw := c.doRaw(ctx, t, "POST", "/v1/indexes/outage/bulk?timeout=1s", "{\"id\":\"b1\"}\n{\"id\":\"b2\"}\n")
	var b bulkAnswer
	_ = json.Unmarshal(raw, &b)
	if st != http.StatusServiceUnavailable || b.Failed != 2 || len(b.Errors) != 2 || !b.Errors[0].Retryable || b.Errors[0].Type != "unconfirmed" || time.Since(start) > 10*time.Second {
		t.Errorf("bulk during the outage: %d %s after %v", st, raw, time.Since(start))
	}

	c.Broker.Start(t)
	testwait.For(t, time.Minute, 200*time.Millisecond, func() error {
		st, raw := c.doRaw(ctx, t, "PUT", "/v1/indexes/outage/docs/d1?refresh=wait_for", `{"title":"x"}`)
		if st != http.StatusOK {
			return fmt.Errorf("PUT after the outage: %d %s", st, raw)
		}
		return nil
	})
}

// TestLimitsAtTheDoor: an index is refused past the limits it could not be
// served at, and one at the limits becomes fully served; a 64-shard index
// is deleted in seconds while another index keeps answering; documents,
// bulk lines and queries over the broker's payload limit are refused with
// a 4xx or a non-retryable per-line error; /readyz names a stream deleted
// behind Shoal's back.
func TestLimitsAtTheDoor(t *testing.T) {
	skipShort(t)
	c := StartCluster(t, shoalBin, Options{Searchers: 2, HealAfter: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, body := range []string{`{"shards":257}`, `{"shards":128,"replicas":9}`, `{"shards":0}`} {
		if st, raw := c.doRaw(ctx, t, "PUT", "/v1/indexes/toobig", body); st != http.StatusBadRequest {
			t.Errorf("create %s: %d %s, want 400", body, st, raw)
		}
	}
	if st, raw := c.doRaw(ctx, t, "PUT", "/v1/indexes/widest", `{"shards":256}`); st != http.StatusCreated {
		t.Fatalf("create 256 shards: %d %s", st, raw)
	}
	createIndex(ctx, t, c.Client, "keep", 2, 1)
	c.WaitReady(ctx, t) // every shard of both served

	t.Run("delete a wide index", func(t *testing.T) {
		if st, raw := c.doRaw(ctx, t, "PUT", "/v1/indexes/wide", `{"shards":64}`); st != http.StatusCreated {
			t.Fatalf("create 64 shards: %d %s", st, raw)
		}
		c.WaitReady(ctx, t)
		start := time.Now()
		if st, raw := c.doRaw(ctx, t, "DELETE", "/v1/indexes/wide", ""); st != http.StatusOK {
			t.Fatalf("delete: %d %s", st, raw)
		}
		testwait.For(t, 30*time.Second, 50*time.Millisecond, func() error {
			if st, raw := c.doRaw(ctx, t, "GET", "/v1/indexes/keep/search?q=*&timeout=1s", ""); st != http.StatusOK {
				t.Fatalf("search of another index while deleting: %d %s", st, raw)
			}
			dirs, _ := filepath.Glob(filepath.Join(c.Dir, "s*", "wide.*", "*"))
			if len(dirs) > 0 {
				return fmt.Errorf("%d shard copies of the deleted index left", len(dirs))
			}
			return nil
		})
		t.Logf("a 64-shard index deleted in %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("payload limits", func(t *testing.T) {
		nc, err := nats.Connect(c.NATSURL, c.NATSOptions(t, c.CredsFile(broker.RoleAdmin, ""))...)
		if err != nil {
			t.Fatal(err)
		}
		max := int(nc.MaxPayload())
		nc.Close()
		big := strings.Repeat("x", max+1) // over the broker's payload limit
		st, raw := c.doRaw(ctx, t, "PUT", "/v1/indexes/keep/docs/big", `{"title":"`+big+`"}`)
		if st != http.StatusRequestEntityTooLarge || !strings.Contains(string(raw), "document_too_large") {
			t.Errorf("document of %d bytes: %d %.300s", len(big), st, raw)
		}
		st, raw = c.doRaw(ctx, t, "POST", "/v1/indexes/keep/bulk", "{\"id\":\"ok\"}\n{\"id\":\"big\",\"title\":\""+big+"\"}\n")
		var b bulkAnswer
		if st != http.StatusOK || json.Unmarshal(raw, &b) != nil || b.Indexed != 1 || b.Failed != 1 || b.Errors[0].Retryable || b.Errors[0].Type != "document_too_large" {
			t.Errorf("bulk with a line of %d bytes: %d %.300s", len(big), st, raw)
		}
		q, _ := json.Marshal(map[string]any{"query": map[string]any{"query": strings.Repeat("word ", max/5)}})
		st, raw = c.doRaw(ctx, t, "POST", "/v1/indexes/keep/search", string(q))
		if st != http.StatusBadRequest && st != http.StatusRequestEntityTooLarge {
			t.Errorf("query of %d bytes: %d %.300s", len(q), st, raw)
		}
	})

	t.Run("readyz names a missing stream", func(t *testing.T) {
		nc, err := nats.Connect(c.NATSURL, c.NATSOptions(t, c.CredsFile(broker.RoleAdmin, ""))...)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if err := js.DeleteStream(ctx, "SHOAL_keep"); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, 10*time.Second, 100*time.Millisecond, func() error {
			st, raw := c.doRaw(ctx, t, "GET", "/readyz", "")
			if st != http.StatusServiceUnavailable || !strings.Contains(string(raw), "SHOAL_keep") {
				return fmt.Errorf("readyz %d %s", st, raw)
			}
			return nil
		})
		st, raw := c.doRaw(ctx, t, "PUT", "/v1/indexes/keep/docs/x?timeout=5s", `{"title":"x"}`)
		if st != http.StatusServiceUnavailable || !strings.Contains(string(raw), "stream") {
			t.Errorf("write without a stream: %d %s", st, raw)
		}
	})

	t.Run("a lost catalog is restored from the streams", func(t *testing.T) {
		nc, err := nats.Connect(c.NATSURL, c.NATSOptions(t, c.CredsFile(broker.RoleAdmin, ""))...)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		if err := js.DeleteKeyValue(ctx, "shoal_indexes"); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, 10*time.Second, 100*time.Millisecond, func() error {
			st, raw := c.doRaw(ctx, t, "GET", "/readyz", "")
			if st != http.StatusServiceUnavailable || !strings.Contains(string(raw), "shoal_indexes is missing") {
				return fmt.Errorf("readyz %d %.300s", st, raw)
			}
			return nil
		})
		c.Coordinator.Stop(t)
		c.Coordinator.Start(t)
		c.WaitHealthy(ctx, t)
		testwait.For(t, 30*time.Second, 100*time.Millisecond, func() error {
			if st, raw := c.doRaw(ctx, t, "GET", "/v1/indexes/widest", ""); st != http.StatusOK {
				return fmt.Errorf("index after the coordinator's restart: %d %.200s", st, raw)
			}
			return nil
		})
	})
}
