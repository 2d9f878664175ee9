package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bounds the hostile-query test holds the processes to.
const (
	// hostileDeadline is the timeout every hostile request asks for; its
	// answer must come within it, plus hostileSlack for the network and a
	// loaded machine.
	hostileDeadline = 2 * time.Second
	hostileSlack    = time.Second
	// normalBound is the longest a normal search from another client may
	// take meanwhile.
	normalBound = time.Second
	// maxPeakRSS bounds the peak resident memory of the coordinator and of
	// each searcher over the whole test, sample corpus loaded.
	maxPeakRSS = 256 << 20
	// hostileRounds is how many times the hostile queries are sent, four
	// at once each.
	hostileRounds = 3
)

// hostileQuery is one request an attacker sends.
type hostileQuery struct {
	name, method, path, body string
	// want are the statuses it may answer with.
	want []int
}

// hostileQueries are the requests that once pinned a core or took the
// process to gigabytes, each with the answer it gets now.
func hostileQueries(index string) []hostileQuery {
	search := "/v1/indexes/" + index + "/search"
	timeout := "&timeout=" + hostileDeadline.String()
	post := func(query any, extra map[string]any) string {
		body := map[string]any{"query": query, "timeout": hostileDeadline.String()}
		for k, v := range extra {
			body[k] = v
		}
		b, _ := json.Marshal(body)
		return string(b)
	}
	nested := `{"term":"http"}`
	for i := 0; i < 10_000; i++ {
		nested = `{"conjuncts":[` + nested + `]}`
	}
	flat := make([]any, 10_000)
	for i := range flat {
		flat[i] = map[string]any{"term": fmt.Sprintf("t%d", i)}
	}
	bad := []int{http.StatusBadRequest}
	return []hostileQuery{
		{"query string of 100 KB", "GET", search + "?q=" + url.QueryEscape(strings.Repeat("http~ ", 100_000/6)) + timeout, "", bad},
		{"query string of 1 MB", "POST", search, post(map[string]any{"query": strings.Repeat("a* ", 1_000_000/3)}, nil), bad},
		// Just under what net/http reads of a request line and headers
		// (1 MiB and 4 KiB); a longer URL it refuses itself (431).
		{"query string of 1 MB in the URL", "GET", search + "?q=" + strings.Repeat("a", 1<<20) + timeout, "", bad},
		{"10,000 nested clauses", "POST", search, `{"timeout":"2s","query":` + nested + `}`, bad},
		{"10,000 nested groups in a query string", "GET", search + "?q=" + url.QueryEscape(strings.Repeat("(", 10_000)+"a"+strings.Repeat(")", 10_000)) + timeout, "", bad},
		{"10,000 clauses", "POST", search, post(map[string]any{"disjuncts": flat}, nil), bad},
		{"q=* size 10000 highlight", "GET", search + "?q=*&size=10000&highlight=true" + timeout, "", bad},
		{"everything, all fields, highlighted", "POST", search, post(map[string]any{"query": "*"},
			map[string]any{"size": 10000, "fields": []string{"*"}, "highlight": map[string]any{"style": "html"}}), bad},
	}
}

// TestHostileQueries sends each hostile query four times at once, all of
// them together, while another client searches as usual: every hostile
// query is refused (400, or 429 when too many run) within its deadline,
// the normal searches keep answering within normalBound, and no process
// goes past maxPeakRSS.
func TestHostileQueries(t *testing.T) {
	skipShort(t)
	c := StartCluster(t, shoalBin, Options{Searchers: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	createIndex(ctx, t, c.Client, "sample", 4, 1)
	loadSample(ctx, t, c.Client, "sample")
	c.WaitReady(ctx, t)

	normal := startNormalSearches(ctx, c.URL+"/v1/indexes/sample/search?q=http+client&size=10&highlight=true")
	hc := &http.Client{Timeout: 30 * time.Second}
	var slowest time.Duration
	var mu sync.Mutex
	for round := 0; round < hostileRounds; round++ {
		var wg sync.WaitGroup
		for _, q := range hostileQueries("sample") {
			for i := 0; i < 4; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, took, err := send(ctx, hc, q.method, c.URL+q.path, q.body)
					mu.Lock()
					slowest = max(slowest, took)
					mu.Unlock()
					switch {
					case err != nil:
						t.Errorf("%s: %v", q.name, err)
					case !wanted(status, q.want) && status != http.StatusTooManyRequests:
						t.Errorf("%s: answered %d, want one of %v or 429", q.name, status, q.want)
					case took > hostileDeadline+hostileSlack:
						t.Errorf("%s: answered %d after %v, past its deadline of %v", q.name, status, took, hostileDeadline)
					}
				}()
			}
		}
		wg.Wait()
	}
	t.Logf("%d rounds of hostile queries, the slowest answered in %v", hostileRounds, slowest.Round(time.Millisecond))
	n, worst, errs := normal.stop()
	t.Logf("%d normal searches meanwhile, the slowest in %v", n, worst.Round(time.Millisecond))
	if n == 0 || len(errs) > 0 || worst > normalBound {
		t.Errorf("normal searches: %d, slowest %v (bound %v), errors %v", n, worst, normalBound, errs)
	}
	for _, p := range append([]*Proc{c.Coordinator}, c.Searchers...) {
		rss := p.PeakRSS(t)
		t.Logf("%s: peak RSS %d MiB", p.Name, rss>>20)
		if rss > maxPeakRSS {
			t.Errorf("%s: peak RSS %d MiB, bound %d MiB", p.Name, rss>>20, maxPeakRSS>>20)
		}
	}
}

func wanted(status int, want []int) bool {
	for _, w := range want {
		if status == w {
			return true
		}
	}
	return false
}

// send sends one request and returns its status and how long it took.
func send(ctx context.Context, hc *http.Client, method, target, body string) (int, time.Duration, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, r)
	if err != nil {
		return 0, 0, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, time.Since(start), err
}

// normalSearches is a client of its own that searches in a loop.
type normalSearches struct {
	cancel context.CancelFunc
	done   chan struct{}
	n      int
	worst  time.Duration
	errs   []string
}

func startNormalSearches(ctx context.Context, target string) *normalSearches {
	ctx, cancel := context.WithCancel(ctx)
	s := &normalSearches{cancel: cancel, done: make(chan struct{})}
	hc := &http.Client{Timeout: 30 * time.Second}
	go func() {
		defer close(s.done)
		pace := time.NewTicker(20 * time.Millisecond) // a user's pace, not a load test
		defer pace.Stop()
		for ctx.Err() == nil {
			status, took, err := send(ctx, hc, "GET", target, "")
			if ctx.Err() != nil {
				return
			}
			s.n++
			s.worst = max(s.worst, took)
			if err != nil || status != http.StatusOK {
				s.errs = append(s.errs, fmt.Sprintf("%d %v", status, err))
			}
			select {
			case <-ctx.Done():
			case <-pace.C:
			}
		}
	}()
	return s
}

// stop ends the searches and reports how many ran, the slowest, and the
// failures.
func (s *normalSearches) stop() (int, time.Duration, []string) {
	s.cancel()
	<-s.done
	return s.n, s.worst, s.errs
}
