package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testwait"
)

// TestReadyzWhileWorkersHeld: a searcher whose request workers are all
// held (slow searches here; a flood of requests in the wild) cannot take
// requests, and /readyz says so by name; it is ready again once they are
// free. Wait requests, which may last minutes, never hold those workers.
func TestReadyzWhileWorkersHeld(t *testing.T) {
	c := testcluster.Start(t, 1, func(o *cluster.Options) {
		o.Searcher.Concurrency = 2
		o.Searcher.HeartbeatInterval = 200 * time.Millisecond
	})
	a := &httpAPI{base: c.URL(), hc: &http.Client{Timeout: time.Minute}}
	a.json(t, "PUT", "/v1/indexes/held", `{"shards":1}`, http.StatusCreated, nil)
	a.json(t, "PUT", "/v1/indexes/held/docs/a?refresh=wait_for", `{"t":"x"}`, http.StatusOK, nil)
	testwait.For(t, 10*time.Second, 50*time.Millisecond, func() error {
		if st, raw := a.do(t, "GET", "/readyz", ""); st != http.StatusOK {
			return fmt.Errorf("readyz %d %s", st, raw)
		}
		return nil
	})

	node := c.Searcher(0)
	node.SetSearchDelay(6 * time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 2 {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", c.URL()+"/v1/indexes/held/search?q=x&timeout=20s", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	testwait.For(t, 10*time.Second, 100*time.Millisecond, func() error {
		st, raw := a.do(t, "GET", "/readyz", "")
		if st != http.StatusServiceUnavailable || !strings.Contains(string(raw), "cannot take requests") {
			return fmt.Errorf("readyz with every worker held: %d %s", st, raw)
		}
		return nil
	})
	node.SetSearchDelay(0)
	testwait.For(t, 20*time.Second, 100*time.Millisecond, func() error {
		if st, raw := a.do(t, "GET", "/readyz", ""); st != http.StatusOK {
			return fmt.Errorf("readyz once the workers are free: %d %s", st, raw)
		}
		return nil
	})
}
