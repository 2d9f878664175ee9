package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/internal/testwait"
)

// The browser tests drive a real headless Chromium against a real in-process
// Shoal (embedded NATS, four searchers, Bleve on disk) holding the sample
// corpus plus one hostile document. Every step waits for the page to say it
// is done (body[data-state="ready"]) instead of sleeping.
//
// Set SHOAL_SHOTS_DIR to also keep the screenshots there; by default they
// only go to the test's temporary directory.

const (
	sampleIndex = cluster.SampleIndex
	// xssID is the hostile document; xssWord is a word only it contains.
	xssID   = "xss-probe"
	xssWord = "zzxssprobe"
	// stepTimeout bounds one browser step (a navigation, a click, a wait).
	stepTimeout = 20 * time.Second
)

// browserPath finds a Chromium-family browser. Without one the test fails
// when CI is set (.ci/run installs chromium) and is skipped otherwise.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium or Chrome on PATH, and CI is set: .ci/run must install the chromium package")
	}
	t.Skip("no Chromium or Chrome on PATH (install the chromium package to run the browser tests)")
	return ""
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster, loads the sample corpus and drives a browser; run without -short")
	}
	execPath := browserPath(t)
	start := time.Now()

	// A safety net for a stuck cluster, not a pace: the test takes ~30 s.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	c, err := cluster.Start(ctx, cluster.Options{
		DataDir:    t.TempDir(),
		NATSListen: "127.0.0.1:-1",
		Searchers:  4,
		Frontend:   cluster.FrontendOptions{HTTPAddr: "127.0.0.1:0"},
		Logger:     quiet,
	})
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	defer c.Close()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := c.Frontend.LoadSample(ctx, 4)
	if err != nil {
		t.Fatalf("load sample: %v", err)
	}
	api := &apiClient{base: c.URL()}
	api.putXSSDoc(ctx, t)
	t.Logf("cluster up with %d sample documents in %v", n, time.Since(start).Round(time.Millisecond))

	b := startBrowser(t, execPath, c.URL())
	shots := &shotDir{dir: t.TempDir(), keep: os.Getenv("SHOAL_SHOTS_DIR")}
	t.Logf("browser up after %v", time.Since(start).Round(time.Millisecond))

	t.Run("FocusOnLoadAndSlash", func(t *testing.T) {
		b.open(t, "/")
		if id := eval[string](t, b, `document.activeElement && document.activeElement.id`); id != "q" {
			t.Fatalf("focused element on load is %q, want the search box #q", id)
		}
		b.do(t, chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
		if id := eval[string](t, b, `document.activeElement === document.body ? "body" : document.activeElement.id`); id != "body" {
			t.Fatalf("blur left focus on %q", id)
		}
		b.do(t, pressSlash)
		if id := eval[string](t, b, `document.activeElement && document.activeElement.id`); id != "q" {
			t.Fatalf(`after pressing "/" the focus is on %q, want #q`, id)
		}
		if v := eval[string](t, b, `document.getElementById("q").value`); v != "" {
			t.Fatalf(`pressing "/" to focus the box also typed into it: value %q`, v)
		}
		// Inside the box "/" is an ordinary character (path queries need it).
		b.do(t, pressSlash)
		if v := eval[string](t, b, `document.getElementById("q").value`); v != "/" {
			t.Fatalf(`pressing "/" in the box gave the value %q, want "/"`, v)
		}
	})

	t.Run("QueryShowsExpectedHit", func(t *testing.T) {
		t0 := time.Now()
		want := api.search(ctx, t, map[string]any{"query": map[string]any{"query": "http client"}, "size": 10})
		t.Logf("first API search for \"http client\" took %v", time.Since(t0).Round(time.Millisecond))
		if len(want.Hits) == 0 {
			t.Fatal("the API finds nothing for \"http client\"")
		}
		b.open(t, "/")
		b.submitQuery(t, "http client")
		hits := b.hits(t)
		if len(hits) == 0 || len(hits) > 10 {
			t.Fatalf("page shows %d hits, want 1..10", len(hits))
		}
		top := want.Hits[0].ID
		if hits[0].ID != top {
			t.Errorf("first hit on the page is %q, the API's first is %q (page: %v)", hits[0].ID, top, ids(hits))
		}
		for _, h := range hits {
			if h.Title == "" || h.Score == "" {
				t.Errorf("hit %q lacks a title or score: %+v", h.ID, h)
			}
		}
		if got := b.summaryTotal(t); got != want.TotalHits {
			t.Errorf("summary says %d results, the API %d", got, want.TotalHits)
		}
		if q := b.query(t); q.Get("q") != "http client" || q.Get("index") != sampleIndex {
			t.Errorf("URL query is %v, want q=http client and index=%s", q, sampleIndex)
		}
	})

	t.Run("TimingsToggle", func(t *testing.T) {
		b.open(t, "/?q=http+client")
		if eval[bool](t, b, `document.getElementById("timings").hidden || document.getElementById("timings").open`) {
			t.Fatal("the timings toggle is hidden, or open before it was clicked")
		}
		b.do(t, chromedp.Click(chromedp.CSS(`#timings summary`)))
		if !eval[bool](t, b, `document.getElementById("timings").open`) {
			t.Fatal("clicking timings did not open it")
		}
		phases := eval[string](t, b, `document.getElementById("timings-phases").textContent`)
		for _, w := range []string{"took", "presearch", "scatter", "merge"} {
			if !strings.Contains(phases, w) {
				t.Errorf("timings phases %q lack %q", phases, w)
			}
		}
		rows := eval[[]map[string]string](t, b, `Array.from(document.querySelectorAll("#timings-shards li")).map(function (li) {
			var row = {};
			li.querySelectorAll("[data-k]").forEach(function (s) { row[s.getAttribute("data-k")] = s.textContent; });
			return row;
		})`)
		if len(rows) != 4 {
			t.Fatalf("%d shard rows in the timings, want the sample's 4: %q", len(rows), rows)
		}
		for i, r := range rows {
			if r["shard"] != "shard "+strconv.Itoa(i) || r["state"] != "answered" || !strings.HasPrefix(r["node"], "searcher-") || r["copy"] != "copy "+r["node"] ||
				!strings.HasPrefix(r["search"], "search ") || !strings.HasSuffix(r["search"], "s") || r["asked"] != "asked "+r["node"] {
				t.Errorf("timings row %d: %q", i, r)
			}
		}
	})

	t.Run("FacetFilters", func(t *testing.T) {
		b.open(t, "/?q=http+client")
		term := `button.facet-term[data-facet="kind"][data-term="func"]`
		if !eval[bool](t, b, fmt.Sprintf(`!!document.querySelector(%q)`, term)) {
			t.Fatalf("no facet button %s", term)
		}
		b.act(t, chromedp.Click(chromedp.CSS(term)))

		want := api.search(ctx, t, map[string]any{
			"query": map[string]any{"conjuncts": []any{
				map[string]any{"query": "http client"},
				map[string]any{"term": "func", "field": "kind"},
			}},
			"size": 10,
		})
		hits := b.hits(t)
		if len(hits) == 0 {
			t.Fatal("no hits after filtering by kind=func")
		}
		for _, h := range hits {
			if !slices.Equal(h.Kinds, []string{"func"}) {
				t.Errorf("hit %q has kind badges %v, want [func]", h.ID, h.Kinds)
			}
		}
		if got, w := sortedIDs(hits), sortedIDs(apiHitsAsPage(want.Hits)); !slices.Equal(got, w) {
			t.Errorf("filtered hits %v, the API's %v", got, w)
		}
		if got := b.summaryTotal(t); got != want.TotalHits {
			t.Errorf("summary says %d results, the API %d", got, want.TotalHits)
		}
		chip := `#filters .chip[data-facet="kind"][data-term="func"]`
		if !eval[bool](t, b, fmt.Sprintf(`(function(){var c=document.querySelector(%q);return !!c && c.getClientRects().length>0})()`, chip)) {
			t.Error("no visible filter chip for kind: func")
		}
		if p := eval[string](t, b, fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-pressed")`, term)); p != "true" {
			t.Errorf("facet button aria-pressed=%q, want true", p)
		}
		if s := eval[string](t, b, `window.location.search`); !strings.Contains(s, "f=kind:func") {
			t.Errorf("URL %q lacks f=kind:func", s)
		}
	})

	t.Run("PaginationAndBack", func(t *testing.T) {
		b.open(t, "/?q=http+client")
		page1 := ids(b.hits(t))
		if len(page1) != 10 {
			t.Fatalf("page 1 shows %d hits, want 10", len(page1))
		}
		b.act(t, chromedp.Click(chromedp.CSS(`#pager button.page[data-page="2"]`)))
		page2 := ids(b.hits(t))
		if len(page2) == 0 {
			t.Fatal("page 2 is empty")
		}
		for _, id := range page2 {
			if slices.Contains(page1, id) {
				t.Errorf("hit %q is on page 1 and on page 2", id)
			}
		}
		want := api.search(ctx, t, map[string]any{"query": map[string]any{"query": "http client"}, "size": 10, "from": 10})
		if got, w := slices.Sorted(slices.Values(page2)), sortedIDs(apiHitsAsPage(want.Hits)); !slices.Equal(got, w) {
			t.Errorf("page 2 hits %v, the API's from=10 hits %v", got, w)
		}
		if q := b.query(t); q.Get("page") != "2" {
			t.Errorf("URL query %v lacks page=2", q)
		}
		if cur := eval[string](t, b, `(document.querySelector('#pager .page[aria-current="page"]')||{}).textContent||""`); cur != "2" {
			t.Errorf("current page button says %q, want 2", cur)
		}

		b.act(t, chromedp.Evaluate[chromedp.Void](`history.back()`))
		if back := ids(b.hits(t)); !slices.Equal(back, page1) {
			t.Errorf("after Back the page shows %v, want page 1 %v", back, page1)
		}
		if q := b.query(t); q.Has("page") || q.Get("q") != "http client" {
			t.Errorf("after Back the URL query is %v, want page 1 of q=http client", q)
		}
	})

	t.Run("PartialBanner", func(t *testing.T) {
		slot, failed := slotWithShards(t, c)
		if err := c.KillSearcher(slot); err != nil {
			t.Fatalf("kill searcher %d: %v", slot, err)
		}
		restarted := false
		restart := func() {
			if restarted {
				return
			}
			restarted = true
			if err := c.StartSearcher(ctx, slot); err != nil {
				t.Fatalf("restart searcher %d: %v", slot, err)
			}
			api.waitComplete(ctx, t)
		}
		defer restart() // also when a check below fails

		b.open(t, "/")
		b.submitQuery(t, "http client")
		banner := eval[notice](t, b, noticeJS("partial-banner"))
		if !banner.Visible {
			t.Fatalf("partial banner not visible with searcher-%d down (shards %v)", slot, failed)
		}
		if got := b.summaryTotal(t); got == 0 {
			t.Error("summary counts no results on a partial answer")
		}
		// The banner says how much the answer covers, as the API does.
		cov := api.search(ctx, t, map[string]any{"query": map[string]any{"query": "http client"}, "size": 0}).Coverage.Percent
		wantPct := strconv.FormatFloat(math.Floor(cov*10)/10, 'f', -1, 64)
		want := fmt.Sprintf("Results from %s%% of documents; %d shard", wantPct, len(failed))
		if !strings.Contains(banner.Text, want) || !strings.Contains(banner.Text, "did not answer") {
			t.Errorf("banner %q does not say %q… did not answer", banner.Text, want)
		}
		// Each shard that did not answer is listed with its state.
		states := eval[map[string]string](t, b, `Object.fromEntries(Array.from(document.querySelectorAll("#partial-banner .shard-state")).map(function (li) { return [li.dataset.shard, li.dataset.state]; }))`)
		if len(states) != len(failed) {
			t.Errorf("banner lists shards %v, want %v", states, failed)
		}
		for _, s := range failed {
			if states[strconv.Itoa(s)] != "unavailable" {
				t.Errorf("banner lists shard %d as %q, want unavailable", s, states[strconv.Itoa(s)])
			}
			if !regexp.MustCompile(`\bshard ` + strconv.Itoa(s) + `: no live copy\b`).MatchString(banner.Text) {
				t.Errorf("banner %q does not name failed shard %d and its state", banner.Text, s)
			}
		}
		// The timings (the answer's profile) show each shard's state.
		timed := eval[map[string]string](t, b, `Object.fromEntries(Array.from(document.querySelectorAll("#timings-shards li")).map(function (li) { return [li.dataset.shard, li.dataset.state]; }))`)
		for s := range 4 {
			want := "answered"
			if slices.Contains(failed, s) {
				want = "unavailable"
			}
			if timed[strconv.Itoa(s)] != want {
				t.Errorf("timings show shard %d as %q, want %q (all: %v)", s, timed[strconv.Itoa(s)], want, timed)
			}
		}
		if len(b.hits(t)) == 0 {
			t.Error("no hits shown with a partial answer")
		}
		t.Logf("banner with searcher-%d down: %q", slot, banner.Text)
		shots.save(t, "partial-1280.png", run(t, b, chromedp.CaptureScreenshot()))

		// A query never seen, whose statistics take a round of their own
		// (fuzzy), cannot count the dead node's shards: the banner says the
		// scores are approximate, and which shards they leave out.
		b.submitQuery(t, "htpp~1 client")
		banner = eval[notice](t, b, noticeJS("partial-banner"))
		names := make([]string, len(failed))
		for i, s := range failed {
			names[i] = strconv.Itoa(s)
		}
		wantApprox := "Scores are approximate: the ranking statistics leave out shard " + strings.Join(names, ", ")
		if len(failed) > 1 {
			wantApprox = strings.Replace(wantApprox, "shard ", "shards ", 1)
		}
		if !banner.Visible || !strings.Contains(banner.Text, wantApprox) {
			t.Errorf("banner %q (visible %v) does not say %q", banner.Text, banner.Visible, wantApprox)
		}

		restart()
		b.submitQuery(t, "http client")
		if n := eval[notice](t, b, noticeJS("partial-banner")); n.Visible {
			t.Errorf("partial banner still visible after the searcher came back: %q", n.Text)
		}
	})

	t.Run("DocumentTextIsNeverHTML", func(t *testing.T) {
		b.open(t, "/")
		b.submitQuery(t, xssWord)
		hits := b.hits(t)
		var probe *pageHit
		for i := range hits {
			if hits[i].ID == xssID {
				probe = &hits[i]
			}
		}
		if probe == nil {
			t.Fatalf("the hostile document %q is not among the hits %v", xssID, ids(hits))
		}
		if !strings.Contains(probe.Title, "<script>") || !strings.Contains(probe.Title, "<img src=x") {
			t.Errorf("title text %q does not show the markup literally", probe.Title)
		}
		if !strings.Contains(probe.Snippet, "<script>") || !strings.Contains(probe.Snippet, `onerror="window.__pwned=2"`) {
			t.Errorf("snippet text %q does not show the markup literally", probe.Snippet)
		}
		if len(probe.Marks) == 0 {
			t.Error("no <mark> highlight in the hostile document's snippet")
		}
		for _, m := range probe.Marks {
			if !strings.EqualFold(m, xssWord) {
				t.Errorf("highlight marks %q, want only %q", m, xssWord)
			}
		}
		if !slices.Equal(probe.Kinds, []string{"<script>window.__pwned=3</script>"}) {
			t.Errorf("kind badge shows %v, want the literal text", probe.Kinds)
		}
		checks := []struct {
			name, js string
		}{
			{"no script ran", `typeof window.__pwned === "undefined"`},
			{"no injected img", `document.querySelector('img[src="x"]') === null && document.getElementsByTagName("img").length === 0`},
			{"no element with an onerror attribute", `document.querySelector("[onerror]") === null`},
			{"only the page's own script", `document.scripts.length === 1 && /\/static\/app\.js$/.test(document.scripts[0].src)`},
			{"no script in results or facets", `document.querySelector("#results script, #facets script, #filters script") === null`},
			{"marks are the only markup in snippets", `Array.from(document.querySelectorAll("#results .hit-snippet *")).every(function(e){return /^(MARK|SPAN)$/.test(e.tagName)})`},
			{"facet shows the hostile pkg as text", `Array.from(document.querySelectorAll('button.facet-term[data-facet="pkg"] .facet-term-label')).some(function(e){return e.textContent.indexOf('<img src=x onerror="window.__pwned=4">') >= 0})`},
		}
		for _, ch := range checks {
			if !eval[bool](t, b, ch.js) {
				t.Errorf("%s: %s is false", ch.name, ch.js)
			}
		}
	})

	t.Run("EmptyStateAndQueryError", func(t *testing.T) {
		b.open(t, "/")
		b.submitQuery(t, "qqnomatchzzqq")
		empty := eval[notice](t, b, noticeJS("empty-state"))
		if !empty.Visible || !strings.Contains(empty.Text, "No results") {
			t.Errorf("empty state %+v, want a visible \"No results\" message", empty)
		}
		if n := len(b.hits(t)); n != 0 {
			t.Errorf("%d hits shown for a query that matches nothing", n)
		}
		if eval[notice](t, b, noticeJS("error-box")).Visible {
			t.Error("error box shown for a valid query")
		}

		// Bleve's query-string syntax is lenient ("title:(" is a term
		// query for "("), so these are queries it really rejects; the API
		// is asked first so that a change there is reported as such.
		for _, bad := range []string{`title:"http client`, `words:>abc`} {
			status, err := api.do(ctx, http.MethodPost, "/v1/indexes/"+sampleIndex+"/search",
				map[string]any{"query": map[string]any{"query": bad}}, nil)
			if status != http.StatusBadRequest {
				t.Fatalf("API answered %q with HTTP %d (%v), want 400", bad, status, err)
			}
			b.submitQuery(t, bad)
			errBox := eval[notice](t, b, noticeJS("error-box"))
			if !errBox.Visible || len(strings.TrimSpace(errBox.Text)) < 20 {
				t.Fatalf("query %q: error box %+v, want a visible explanation in words", bad, errBox)
			}
			if !strings.Contains(errBox.Text, "problem with the query") {
				t.Errorf("query %q: error box %q does not say the query is at fault", bad, errBox.Text)
			}
			if eval[notice](t, b, noticeJS("empty-state")).Visible || len(b.hits(t)) != 0 {
				t.Errorf("query %q: a failed query still shows results or the empty state", bad)
			}
			if v := eval[string](t, b, `document.getElementById("q").value`); v != bad {
				t.Errorf("query %q: the box now holds %q; the user's query should stay for fixing", bad, v)
			}
			t.Logf("query %q: error box says %q", bad, errBox.Text)
		}
	})

	t.Run("PhoneAndDesktopWidths", func(t *testing.T) {
		defer b.do(t, chromedp.EmulateReset())
		pages := []struct {
			name, path string
			hits       bool
		}{
			{"results", "/?q=http+client&f=kind:func", true},
			{"hostile", "/?q=" + xssWord, true},
			{"error", "/?q=" + url.QueryEscape(`title:"http client`), false},
		}
		for _, w := range []struct {
			width, height int64
			narrow        bool
		}{{360, 740, true}, {1280, 900, false}} {
			b.do(t, chromedp.EmulateViewport(w.width, w.height))
			for _, p := range pages {
				b.open(t, p.path)
				lay := eval[layout](t, b, layoutJS)
				if lay.ScrollWidth > int(w.width) || lay.BodyScrollWidth > int(w.width) {
					t.Errorf("%s at %dpx: horizontal scroll: document %dpx, body %dpx wide", p.name, w.width, lay.ScrollWidth, lay.BodyScrollWidth)
				}
				if len(lay.Overflowing) > 0 {
					t.Errorf("%s at %dpx: elements reach past the right edge: %v", p.name, w.width, lay.Overflowing)
				}
				if p.hits && (lay.Hits == 0 || !lay.FirstHitVisible) {
					t.Errorf("%s at %dpx: results not visible (%d hits, first visible %v)", p.name, w.width, lay.Hits, lay.FirstHitVisible)
				}
				if w.narrow && lay.FacetsOpen {
					t.Errorf("%s at %dpx: the facet panel should start collapsed on a phone", p.name, w.width)
				}
				if !p.hits && lay.ErrorWidth < min(float64(w.width)-48, 600) {
					t.Errorf("%s at %dpx: the error box is squeezed to %.0fpx", p.name, w.width, lay.ErrorWidth)
				}
				if p.hits && !w.narrow && (!lay.FacetsOpen || !lay.SidebarBeside) {
					t.Errorf("%s at %dpx: the facets should be open beside the results (open %v, beside %v)", p.name, w.width, lay.FacetsOpen, lay.SidebarBeside)
				}
				shots.save(t, fmt.Sprintf("%s-%d.png", p.name, w.width), run(t, b, chromedp.CaptureScreenshot()))
				if p.name == "results" {
					shots.save(t, fmt.Sprintf("%s-%d-full.png", p.name, w.width), run(t, b, chromedp.FullScreenshot(100)))
				}
			}
		}
		if shots.keep != "" {
			t.Logf("screenshots kept in %s", shots.keep)
		}
	})

	b.checkNoExceptions(t)
	t.Logf("browser test took %v in all", time.Since(start).Round(time.Millisecond))
}

// ------------------------------------------------------------------ browser

// shotDir receives screenshots: always the test's temporary directory, and
// keep as well when SHOAL_SHOTS_DIR names one (for a person to look at).
type shotDir struct{ dir, keep string }

func (d *shotDir) save(t *testing.T, name string, png []byte) {
	t.Helper()
	for _, dir := range []string{d.dir, d.keep} {
		if dir == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tab is one headless Chromium tab pointed at a Shoal.
type tab struct {
	ctx  context.Context
	base string

	mu         sync.Mutex
	exceptions []string
}

func startBrowser(t *testing.T, execPath, base string) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	// The first Run starts the browser; it gets no timeout, or the timeout
	// would end the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", execPath, err)
	}
	// Every page load reports a Content-Security-Policy violation as an
	// uncaught exception, which checkNoExceptions fails on.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspReporter})
		return err
	})); err != nil {
		t.Fatalf("install the CSP reporter: %v", err)
	}
	b := &tab{ctx: ctx, base: base}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil && e.ExceptionDetails.Exception.Description != "" {
				msg += ": " + e.ExceptionDetails.Exception.Description
			}
			b.mu.Lock()
			b.exceptions = append(b.exceptions, msg)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// cspReporter turns each Content-Security-Policy violation of a page into
// an uncaught exception.
const cspReporter = `document.addEventListener('securitypolicyviolation', function (e) {
  setTimeout(function () { throw new Error('Content-Security-Policy violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI); });
});`

// checkNoExceptions fails the test when the page threw an uncaught
// exception at any point.
func (b *tab) checkNoExceptions(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.exceptions {
		t.Errorf("uncaught exception in the page: %s", e)
	}
}

// run runs one action with a step timeout and fails t on error.
func run[T any](t *testing.T, b *tab, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, b *tab, js string) T {
	t.Helper()
	return run(t, b, chromedp.Evaluate[T](js))
}

func (b *tab) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	run(t, b, chromedp.Steps(steps...))
}

// waitReady waits until the page has rendered the answer to its last search.
func (b *tab) waitReady(t *testing.T) {
	t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](
		`document.body !== null && document.body.dataset.state === "ready"`,
		chromedp.WithPollingInterval(20*time.Millisecond),
		chromedp.WithPollingTimeout(stepTimeout),
	))
	if err != nil {
		state := eval[string](t, b, `document.body ? document.body.dataset.state : "no body"`)
		t.Fatalf("page never became ready (state %q): %v", state, err)
	}
}

// open loads path in the tab and waits for the first search to render.
func (b *tab) open(t *testing.T, path string) {
	t.Helper()
	b.do(t, chromedp.Navigate(b.base+path))
	b.waitReady(t)
}

// act runs steps that start a search and waits for its answer. The page
// sets data-state to "loading" when a search starts and to "ready" when it
// has rendered; marking the state stale first means a "ready" left over
// from the previous search cannot be mistaken for this one.
func (b *tab) act(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	b.do(t, chromedp.Evaluate[chromedp.Void](`document.body.dataset.state = "test-pending"`))
	b.do(t, steps...)
	b.waitReady(t)
}

// submitQuery types q into the search box as a user would and presses Enter.
func (b *tab) submitQuery(t *testing.T, q string) {
	t.Helper()
	b.act(t,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("q").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#q"), q+kb.Enter),
	)
}

// pressSlash presses the "/" key the way a keyboard does: one keyDown that
// carries the text, so that, as in a real browser, a keydown handler that
// calls preventDefault also stops the character from being typed.
// (chromedp.KeyEvent sends the character as a separate char event, which a
// handled keydown does not cancel.)
var pressSlash = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
		p := input.DispatchKeyEventParams{Type: typ, Key: "/", Code: "Slash", WindowsVirtualKeyCode: 191, NativeVirtualKeyCode: 191}
		if typ == input.DispatchKeyEventTypeKeyDown {
			p.Text, p.UnmodifiedText = "/", "/"
		}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
			return fmt.Errorf("press /: %w", err)
		}
	}
	return nil
})

// pageHit is a result as the page shows it.
type pageHit struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Snippet string   `json:"snippet"`
	Score   string   `json:"score"`
	Kinds   []string `json:"kinds"`
	Marks   []string `json:"marks"`
}

const hitsJS = `Array.from(document.querySelectorAll("#results .hit")).map(function (h) {
  function txt(sel) { var e = h.querySelector(sel); return e ? e.textContent : ""; }
  return {
    id: h.getAttribute("data-id") || "",
    title: txt(".hit-title"),
    snippet: txt(".hit-snippet"),
    score: txt(".hit-score"),
    kinds: Array.from(h.querySelectorAll(".badge-kind")).map(function (e) { return e.textContent; }),
    marks: Array.from(h.querySelectorAll(".hit-snippet mark")).map(function (e) { return e.textContent; })
  };
})`

func (b *tab) hits(t *testing.T) []pageHit {
	t.Helper()
	return eval[[]pageHit](t, b, hitsJS)
}

// summaryTotal reads the total from "1,234 results (took 5 ms)".
func (b *tab) summaryTotal(t *testing.T) uint64 {
	t.Helper()
	s := eval[string](t, b, `document.getElementById("summary").textContent`)
	m := regexp.MustCompile(`^([\d,]+) results?\b`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("summary %q does not start with a result count", s)
	}
	n, err := strconv.ParseUint(strings.ReplaceAll(m[1], ",", ""), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// query returns the page's current URL query.
func (b *tab) query(t *testing.T) url.Values {
	t.Helper()
	v, err := url.ParseQuery(strings.TrimPrefix(eval[string](t, b, `window.location.search`), "?"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// notice is the state of a message box.
type notice struct {
	Visible bool   `json:"visible"`
	Text    string `json:"text"`
}

func noticeJS(id string) string {
	return fmt.Sprintf(`(function () {
  var e = document.getElementById(%q);
  var r = e.getBoundingClientRect();
  return { visible: !e.hidden && r.width > 0 && r.height > 0, text: e.textContent };
})()`, id)
}

// layout describes how the page fits the viewport.
type layout struct {
	ScrollWidth     int      `json:"scrollWidth"`
	BodyScrollWidth int      `json:"bodyScrollWidth"`
	Overflowing     []string `json:"overflowing"`
	Hits            int      `json:"hits"`
	FirstHitVisible bool     `json:"firstHitVisible"`
	FacetsOpen      bool     `json:"facetsOpen"`
	SidebarBeside   bool     `json:"sidebarBeside"`
	ErrorWidth      float64  `json:"errorWidth"`
}

// layoutJS measures the page. body has overflow-x: hidden, which would hide
// a too-wide element from scrollWidth, so every rendered element's box is
// checked against the viewport too.
const layoutJS = `(function () {
  var vw = document.documentElement.clientWidth;
  var over = [];
  document.querySelectorAll("body *").forEach(function (e) {
    if (e.closest(".visually-hidden, .skip-link")) return;
    var r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return;
    if (r.right > vw + 0.5 || r.left < -0.5) {
      over.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "") + " [" + Math.round(r.left) + "," + Math.round(r.right) + "]");
    }
  });
  var first = document.querySelector("#results .hit");
  var fr = first ? first.getBoundingClientRect() : null;
  var side = document.getElementById("sidebar").getBoundingClientRect();
  var res = document.getElementById("results").getBoundingClientRect();
  return {
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    overflowing: over.slice(0, 10),
    hits: document.querySelectorAll("#results .hit").length,
    firstHitVisible: !!fr && fr.width > 0 && fr.height > 0 && fr.left >= 0 && fr.right <= vw && fr.top < window.innerHeight,
    facetsOpen: document.getElementById("facets-details").open,
    sidebarBeside: side.width > 0 && side.right <= res.left,
    errorWidth: document.getElementById("error-box").getBoundingClientRect().width
  };
})()`

func ids(hits []pageHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

func sortedIDs(hits []pageHit) []string {
	out := ids(hits)
	slices.Sort(out)
	return out
}

// -------------------------------------------------------------------- API

// apiClient talks to Shoal's JSON API, the oracle the page is checked
// against.
type apiClient struct{ base string }

type apiHit struct {
	ID string `json:"id"`
}

type apiResult struct {
	Hits      []apiHit `json:"hits"`
	TotalHits uint64   `json:"total_hits"`
	Partial   bool     `json:"partial"`
	Coverage  struct {
		Percent float64 `json:"percent"`
	} `json:"coverage"`
	Statistics *struct {
		Exact bool `json:"exact"`
	} `json:"statistics"`
}

func apiHitsAsPage(hits []apiHit) []pageHit {
	out := make([]pageHit, len(hits))
	for i, h := range hits {
		out[i].ID = h.ID
	}
	return out
}

func (a *apiClient) do(ctx context.Context, method, path string, body any, out any) (int, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, buf.String())
	}
	if out != nil {
		if err := json.Unmarshal(buf.Bytes(), out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func (a *apiClient) search(ctx context.Context, t *testing.T, req map[string]any) apiResult {
	t.Helper()
	var res apiResult
	if _, err := a.do(ctx, http.MethodPost, "/v1/indexes/"+sampleIndex+"/search", req, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// putXSSDoc stores a document whose every displayed field is hostile markup.
func (a *apiClient) putXSSDoc(ctx context.Context, t *testing.T) {
	t.Helper()
	doc := map[string]any{
		"title": xssWord + ` <script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">`,
		"body":  `The word ` + xssWord + ` sits next to <script>window.__pwned=1</script> and <img src=x onerror="window.__pwned=2"> which must show as text.`,
		"kind":  `<script>window.__pwned=3</script>`,
		"pkg":   `<img src=x onerror="window.__pwned=4">`,
	}
	var res struct {
		Result    string `json:"result"`
		Refreshed *bool  `json:"refreshed"`
	}
	if _, err := a.do(ctx, http.MethodPut, "/v1/indexes/"+sampleIndex+"/docs/"+xssID+"?refresh=wait_for", doc, &res); err != nil {
		t.Fatal(err)
	}
	if res.Result != "indexed" || (res.Refreshed != nil && !*res.Refreshed) {
		t.Fatalf("PUT %s: %+v", xssID, res)
	}
}

// waitComplete polls the API until a search is answered by every shard.
func (a *apiClient) waitComplete(ctx context.Context, t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// A scored query: the restarted copies must answer, and count in the
	// statistics again (the coordinator learns that they serve from their
	// heartbeats, a moment after they answer).
	testwait.For(t, 30*time.Second, 50*time.Millisecond, func() error {
		var res apiResult
		_, err := a.do(ctx, http.MethodPost, "/v1/indexes/"+sampleIndex+"/search",
			map[string]any{"query": map[string]any{"query": "http client"}, "size": 0}, &res)
		switch {
		case err != nil:
			return fmt.Errorf("searches still partial after the searcher restarted: %w", err)
		case res.Partial:
			return errors.New("searches still partial after the searcher restarted")
		case res.Statistics == nil || !res.Statistics.Exact:
			return errors.New("scores still approximate after the searcher restarted")
		}
		return nil
	})
}

// slotWithShards picks the searcher slot to stop (slot 1 when it holds a
// shard of the sample index) and the shards that will lose their only copy.
func slotWithShards(t *testing.T, c *cluster.Cluster) (int, []int) {
	t.Helper()
	m := c.Frontend.Catalog.ShardMap(sampleIndex)
	if m == nil {
		t.Fatal("no shard map for the sample index")
	}
	for _, slot := range []int{1, 0, 2, 3} {
		name := fmt.Sprintf("searcher-%d", slot)
		var lost []int
		for shard, copies := range m.Copies {
			if len(copies) > 0 && !slices.ContainsFunc(copies, func(n string) bool { return n != name }) {
				lost = append(lost, shard)
			}
		}
		if len(lost) > 0 && len(lost) < len(m.Copies) {
			return slot, lost
		}
	}
	t.Fatalf("no searcher holds the only copy of some, but not all, shards: %+v", m.Copies)
	return 0, nil
}
