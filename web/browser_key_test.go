package web_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testwait"
)

// TestBrowserKey drives the page against a server that needs keys: it asks
// for one, a pasted search key makes it search, and its policy lets it run
// while it reports what it blocks.
func TestBrowserKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and drives a browser; run without -short")
	}
	execPath := browserPath(t)
	c := testcluster.Start(t, 1, func(o *cluster.Options) { o.Frontend.Web.APIKey = masterKey })
	master := caller{base: c.URL(), key: masterKey}
	master.want(t, http.StatusCreated, "PUT", "/v1/indexes/site", `{"shards":1}`)
	master.want(t, http.StatusOK, "POST", "/v1/indexes/site/bulk?refresh=wait_for",
		`{"id":"r1","title":"The Long River","body":"a river"}`+"\n"+`{"id":"m1","title":"Summit","body":"a mountain"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	key := newKey(t, master, `{"actions":["search"],"indexes":["site"]}`)
	b := startBrowser(t, execPath, c.URL())

	t.Run("AsksForAKey", func(t *testing.T) {
		b.open(t, "/")
		if eval[bool](t, b, `document.getElementById("key-form").hidden`) {
			t.Fatal("the page does not ask for a key")
		}
		if n := eval[notice](t, b, noticeJS("error-box")); !n.Visible || !strings.Contains(n.Text, "401") {
			t.Fatalf("the page does not say the key is missing: %+v", n)
		}
	})
	t.Run("PastedKeySearches", func(t *testing.T) {
		b.do(t, chromedp.SendKeys(chromedp.CSS("#api-key"), key+kb.Enter))
		// The page reloads with the key; the old page's context goes away
		// on the way, so a failed look is tried again.
		testwait.For(t, stepTimeout, 20*time.Millisecond, func() error {
			ctx, cancel := context.WithTimeout(b.ctx, time.Second)
			defer cancel()
			state, err := chromedp.Run(ctx, chromedp.Evaluate[string](
				`document.body.dataset.state + " " + document.getElementById("key-form").hidden`))
			if err == nil && state != "ready true" {
				err = errors.New("page state and key form hidden: " + state)
			}
			return err
		})
		b.submitQuery(t, "river")
		if ids := ids(b.hits(t)); !slices.Equal(ids, []string{"r1"}) {
			t.Fatalf("with the pasted key the page shows %v, want [r1]", ids)
		}
	})
	b.checkNoExceptions(t)

	t.Run("PolicyViolationsAreReported", func(t *testing.T) {
		b.do(t, chromedp.Evaluate[chromedp.Void](`new Image().src = "http://192.0.2.1/probe.png"`))
		testwait.For(t, 5*time.Second, 20*time.Millisecond, func() error {
			b.mu.Lock()
			defer b.mu.Unlock()
			for _, e := range b.exceptions {
				if strings.Contains(e, "Content-Security-Policy violation: img-src") {
					b.exceptions = nil
					return nil
				}
			}
			return errors.New("an image from another origin was not reported as blocked")
		})
	})
}
