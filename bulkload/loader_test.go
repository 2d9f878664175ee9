package bulkload

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-search/shoal/client"
)

// fakeShoal implements the bulk endpoint of index "books" in memory. These
// tests check the loader's batching, retries and bookkeeping; the real
// server is exercised by the end-to-end tests.
type fakeShoal struct {
	mu       sync.Mutex
	docs     map[string]json.RawMessage
	requests int
	queries  []string
	bodies   []int // body sizes
	// maxBody makes larger requests fail with 413, when positive.
	maxBody int
	// flaky makes the write of an id fail as not stored (retryable) that
	// many times.
	flaky map[string]int
	// unflagged makes the write of an id fail with the indexer's wording
	// for a write not stored, but without the retryable flag.
	unflagged map[string]bool
	// hook, when set, sees every request first (n counts from 1) and
	// returns true if it answered it.
	hook func(n int, w http.ResponseWriter, r *http.Request) bool
}

func newFakeShoal(t *testing.T, f *fakeShoal) (*fakeShoal, *client.Client) {
	t.Helper()
	if f == nil {
		f = &fakeShoal{}
	}
	f.docs = make(map[string]json.RawMessage)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, client.New(srv.URL)
}

func writeAPIError(w http.ResponseWriter, status int, typ, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"type": typ, "reason": reason}})
}

func (f *fakeShoal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/indexes/books/bulk" {
		writeAPIError(w, http.StatusNotFound, "index_not_found", "no such index")
		return
	}
	f.mu.Lock()
	f.requests++
	n := f.requests
	f.queries = append(f.queries, r.URL.RawQuery)
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(n, w, r) {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if f.maxBody > 0 && len(body) > f.maxBody {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", f.maxBody))
		return
	}
	res := client.BulkResult{}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies = append(f.bodies, len(body))
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	for i, line := range lines {
		var doc struct {
			ID     string `json:"id"`
			Delete bool   `json:"_delete"`
			Reject bool   `json:"reject"`
		}
		switch err := json.Unmarshal([]byte(line), &doc); {
		case err != nil || doc.ID == "":
			res.Failed++
			res.Errors = append(res.Errors, client.BulkError{Line: i + 1, Error: "bad line"})
		case f.flaky[doc.ID] > 0:
			f.flaky[doc.ID]--
			res.Failed++
			res.Errors = append(res.Errors, client.BulkError{Line: i + 1, ID: doc.ID, Error: "not stored: nats: timeout", Retryable: true})
		case f.unflagged[doc.ID]:
			res.Failed++
			res.Errors = append(res.Errors, client.BulkError{Line: i + 1, ID: doc.ID, Error: "not stored: nats: timeout"})
		case doc.Reject:
			res.Failed++
			res.Errors = append(res.Errors, client.BulkError{Line: i + 1, ID: doc.ID, Error: "rejected by the test server"})
		case doc.Delete:
			delete(f.docs, doc.ID)
			res.Deleted++
		default:
			f.docs[doc.ID] = json.RawMessage(line)
			res.Indexed++
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

func (f *fakeShoal) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.docs)
}

func (f *fakeShoal) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.docs))
}

func (f *fakeShoal) stats() (requests int, queries []string, bodies []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, slices.Clone(f.queries), slices.Clone(f.bodies)
}

func (f *fakeShoal) setHook(h func(n int, w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

// docLines returns n document lines with ids d1..dn.
func docLines(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"id":"d%d","title":"document number %d"}`, i+1, i+1)
	}
	return out
}

// writeCorpus writes lines to dir/name, gzip-compressed if name ends in .gz.
func writeCorpus(t testing.TB, dir, name string, lines []string) string {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if strings.HasSuffix(name, ".gz") {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// readErrors decodes the JSON lines written to Options.Errors.
func readErrors(t *testing.T, data []byte) []errorRecord {
	t.Helper()
	var out []errorRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var e errorRecord
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("error line %q: %v", sc.Text(), err)
		}
		e.Error = "" // compared separately
		out = append(out, e)
	}
	return out
}

func TestLoad(t *testing.T) {
	mixed := []string{
		`{"id":"a","title":"first"}`,
		``,
		`{"id":"b","title": broken`,
		`{"id":"c","reject":true}`,
		`{"title":"no id"}`,
		`{"id":"d"}`,
		`{"id":"a","_delete":true}`,
		`[1,2]`,
		`{"id":"e"}`,
	}
	keyed := []string{`{"key":"k1","v":1}`, `{"key":2,"v":2}`, `{"v":3}`}

	tests := []struct {
		name     string
		files    map[string][]string // name → lines; files are loaded in name order
		opts     Options
		want     Summary
		wantDocs []string
		wantErrs []errorRecord // File holds the base name
		maxBody  int           // bodies must not exceed this, when set
	}{
		{
			name:  "plain in batches",
			files: map[string][]string{"a.jsonl": docLines(2500)},
			opts:  Options{BatchDocs: 1000},
			want:  Summary{Indexed: 2500},
		},
		{
			name:  "gzip",
			files: map[string][]string{"a.jsonl.gz": docLines(1234)},
			opts:  Options{BatchDocs: 100, Concurrency: 4},
			want:  Summary{Indexed: 1234},
		},
		{
			name:     "bad lines are reported with their file line",
			files:    map[string][]string{"m.jsonl": mixed},
			opts:     Options{BatchDocs: 2},
			want:     Summary{Indexed: 3, Deleted: 1, Failed: 4},
			wantDocs: []string{"d", "e"},
			wantErrs: []errorRecord{
				{File: "m.jsonl", Line: 3},
				{File: "m.jsonl", Line: 4, ID: "c"},
				{File: "m.jsonl", Line: 5},
				{File: "m.jsonl", Line: 8},
			},
		},
		{
			name:     "several files",
			files:    map[string][]string{"1.jsonl": mixed[:4], "2.jsonl.gz": mixed[4:]},
			opts:     Options{BatchDocs: 100},
			want:     Summary{Indexed: 3, Deleted: 1, Failed: 4},
			wantDocs: []string{"d", "e"},
			wantErrs: []errorRecord{
				{File: "1.jsonl", Line: 3},
				{File: "1.jsonl", Line: 4, ID: "c"},
				{File: "2.jsonl.gz", Line: 1},
				{File: "2.jsonl.gz", Line: 4},
			},
		},
		{
			name:     "id field",
			files:    map[string][]string{"k.jsonl": keyed},
			opts:     Options{IDField: "key"},
			want:     Summary{Indexed: 2, Failed: 1},
			wantDocs: []string{"2", "k1"},
			wantErrs: []errorRecord{{File: "k.jsonl", Line: 3}},
		},
		{
			name:    "byte-bounded batches",
			files:   map[string][]string{"a.jsonl": docLines(300)},
			opts:    Options{BatchBytes: 200},
			want:    Summary{Indexed: 300},
			maxBody: 200,
		},
		{
			name:  "empty file",
			files: map[string][]string{"e.jsonl": nil},
			want:  Summary{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			srv, c := newFakeShoal(t, nil)
			names := slices.Sorted(maps.Keys(tt.files))
			opts := tt.opts
			opts.Index = "books"
			var wantBytes int64
			for _, n := range names {
				p := writeCorpus(t, dir, n, tt.files[n])
				opts.Files = append(opts.Files, p)
				fi, _ := os.Stat(p)
				wantBytes += fi.Size()
			}
			var errBuf bytes.Buffer
			opts.Errors = &errBuf
			s, err := New(c, opts).Load(context.Background())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := Summary{Indexed: s.Indexed, Deleted: s.Deleted, Failed: s.Failed, Skipped: s.Skipped}
			if got != tt.want {
				t.Errorf("summary %+v, want %+v", got, tt.want)
			}
			if s.Bytes != wantBytes {
				t.Errorf("Bytes = %d, want %d", s.Bytes, wantBytes)
			}
			if s.Checkpoint != opts.Files[0]+CheckpointSuffix {
				t.Errorf("Checkpoint = %q", s.Checkpoint)
			}
			if tt.wantDocs != nil {
				if ids := srv.ids(); !slices.Equal(ids, tt.wantDocs) {
					t.Errorf("server holds %v, want %v", ids, tt.wantDocs)
				}
			} else if srv.count() != int(tt.want.Indexed) {
				t.Errorf("server holds %d docs, want %d", srv.count(), tt.want.Indexed)
			}
			errs := readErrors(t, errBuf.Bytes())
			for i := range errs {
				errs[i].File = filepath.Base(errs[i].File)
			}
			// Batches finish in any order.
			slices.SortFunc(errs, func(a, b errorRecord) int {
				return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
			})
			if !reflect.DeepEqual(errs, tt.wantErrs) {
				t.Errorf("errors\n got %+v\nwant %+v\n%s", errs, tt.wantErrs, errBuf.String())
			}
			_, _, bodies := srv.stats()
			for _, n := range bodies {
				if tt.maxBody > 0 && n > tt.maxBody {
					t.Errorf("a request body has %d bytes, limit %d", n, tt.maxBody)
				}
			}
		})
	}
}

func TestLoadErrorRecordsHaveReasons(t *testing.T) {
	dir := t.TempDir()
	_, c := newFakeShoal(t, nil)
	p := writeCorpus(t, dir, "x.jsonl", []string{`{"id":"a","reject":true}`, `nope`})
	var buf bytes.Buffer
	s, err := New(c, Options{Index: "books", Files: []string{p}, Errors: &buf}).Load(context.Background())
	if err != nil || s.Failed != 2 {
		t.Fatalf("Load: %+v, %v", s, err)
	}
	out := buf.String()
	for _, want := range []string{`"error":"rejected by the test server"`, `"error":"invalid JSON`, `"file":"` + p + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("errors output lacks %s:\n%s", want, out)
		}
	}
}

func TestLoadRefresh(t *testing.T) {
	srv, c := newFakeShoal(t, nil)
	p := writeCorpus(t, t.TempDir(), "a.jsonl", docLines(3))
	for _, refresh := range []bool{false, true} {
		if _, err := New(c, Options{Index: "books", Files: []string{p}, Refresh: refresh, NoCheckpoint: true}).
			Load(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	_, queries, _ := srv.stats()
	if want := []string{"", "refresh=wait_for"}; !slices.Equal(queries, want) {
		t.Errorf("queries %q, want %q", queries, want)
	}
}

func TestLoadRetries(t *testing.T) {
	tests := []struct {
		name     string
		hook     func(n int, w http.ResponseWriter, r *http.Request) bool
		retries  int64
		maxRetry time.Duration
		wantErr  bool
	}{
		{
			name: "503 twice",
			hook: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n <= 2 {
					writeAPIError(w, http.StatusServiceUnavailable, "unavailable", "starting")
					return true
				}
				return false
			},
			retries: 2,
		},
		{
			name: "bad gateway html",
			hook: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					w.WriteHeader(http.StatusBadGateway)
					_, _ = io.WriteString(w, "<html>bad gateway</html>")
					return true
				}
				return false
			},
			retries: 1,
		},
		{
			name: "connection dropped",
			hook: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
						conn.Close()
					}
					return true
				}
				return false
			},
			retries: 1,
		},
		{
			name: "gives up",
			hook: func(n int, w http.ResponseWriter, r *http.Request) bool {
				writeAPIError(w, http.StatusGatewayTimeout, "timeout", "down")
				return true
			},
			maxRetry: 400 * time.Millisecond,
			wantErr:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newFakeShoal(t, &fakeShoal{hook: tt.hook})
			p := writeCorpus(t, t.TempDir(), "a.jsonl", docLines(10))
			start := time.Now()
			s, err := New(c, Options{Index: "books", Files: []string{p}, Concurrency: 1, MaxRetryTime: tt.maxRetry}).
				Load(context.Background())
			if tt.wantErr {
				if !client.IsUnavailable(err) {
					t.Fatalf("err = %v, want an unavailable error", err)
				}
				if d := time.Since(start); d > tt.maxRetry+2*time.Second {
					t.Errorf("gave up after %v", d)
				}
				if s.Indexed != 0 {
					t.Errorf("Indexed = %d", s.Indexed)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Indexed != 10 || srv.count() != 10 || s.Retries != tt.retries {
				t.Errorf("summary %+v, server %d docs; want 10 indexed after %d retries", s, srv.count(), tt.retries)
			}
		})
	}
}

func TestLoadFatalErrors(t *testing.T) {
	tests := []struct {
		name  string
		index string
		hook  func(n int, w http.ResponseWriter, r *http.Request) bool
		is    error
	}{
		{name: "unknown index", index: "nope", is: client.ErrNotFound},
		{name: "request refused", index: "books", hook: func(n int, w http.ResponseWriter, r *http.Request) bool {
			writeAPIError(w, http.StatusUnauthorized, "unauthorized", "missing API key")
			return true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newFakeShoal(t, &fakeShoal{hook: tt.hook})
			p := writeCorpus(t, t.TempDir(), "a.jsonl", docLines(50))
			_, err := New(c, Options{Index: tt.index, Files: []string{p}, BatchDocs: 10}).Load(context.Background())
			var ae *client.APIError
			if !errors.As(err, &ae) || client.IsUnavailable(err) {
				t.Fatalf("err = %v, want a non-retryable API error", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), "a.jsonl, lines ") {
				t.Errorf("err %q does not say which lines", err)
			}
			if n, _, _ := srv.stats(); n > 5 {
				t.Errorf("%d requests after a fatal error", n)
			}
		})
	}
}

func TestLoadSplitsTooLargeRequests(t *testing.T) {
	lines := docLines(40)
	lines[17] = fmt.Sprintf(`{"id":"huge","text":%q}`, strings.Repeat("x", 600))
	srv, c := newFakeShoal(t, &fakeShoal{maxBody: 500})
	p := writeCorpus(t, t.TempDir(), "a.jsonl", lines)
	var buf bytes.Buffer
	s, err := New(c, Options{Index: "books", Files: []string{p}, Errors: &buf}).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Indexed != 39 || s.Failed != 1 || srv.count() != 39 {
		t.Errorf("summary %+v, server %d docs", s, srv.count())
	}
	errs := readErrors(t, buf.Bytes())
	if len(errs) != 1 || errs[0].Line != 18 || errs[0].ID != "huge" {
		t.Errorf("errors %+v", errs)
	}
	if !strings.Contains(buf.String(), "too large") {
		t.Errorf("reason missing: %s", buf.String())
	}
}

func TestLoadProgress(t *testing.T) {
	for _, name := range []string{"a.jsonl", "a.jsonl.gz"} {
		t.Run(name, func(t *testing.T) {
			_, c := newFakeShoal(t, nil)
			p := writeCorpus(t, t.TempDir(), name, docLines(5000))
			fi, _ := os.Stat(p)
			var calls []Progress // Progress is called from one goroutine
			s, err := New(c, Options{
				Index: "books", Files: []string{p}, BatchDocs: 100, ProgressInterval: time.Millisecond,
				Progress: func(p Progress) { calls = append(calls, p) },
			}).Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(calls) == 0 {
				t.Fatal("Progress never called")
			}
			last := calls[len(calls)-1]
			if !last.Done || last.Acked != 5000 || last.Sent != 5000 || last.Failed != 0 ||
				last.BytesRead != fi.Size() || last.TotalBytes != fi.Size() || last.Fraction() != 1 || last.ETA != 0 {
				t.Errorf("final progress %+v (file %d bytes)", last, fi.Size())
			}
			for i, p := range calls {
				if p.Done != (i == len(calls)-1) {
					t.Errorf("call %d: Done = %v", i, p.Done)
				}
				if i > 0 && (p.Acked < calls[i-1].Acked || p.BytesRead < calls[i-1].BytesRead || p.Elapsed < calls[i-1].Elapsed) {
					t.Errorf("call %d went backwards: %+v after %+v", i, p, calls[i-1])
				}
				if p.Acked > p.Sent || p.BytesRead > p.TotalBytes {
					t.Errorf("call %d inconsistent: %+v", i, p)
				}
			}
			if s.DocsPerSec <= 0 {
				t.Errorf("DocsPerSec = %v", s.DocsPerSec)
			}
		})
	}
}

// TestLoadInterruptAndResume stops a load of 20,000 documents in the middle
// and resumes it: the second run sends only what the first did not finish.
func TestLoadInterruptAndResume(t *testing.T) {
	const n = 20_000
	lines := docLines(n)
	lines[4321] = `{"id":"bad"` // rejected by the reader: finished, not resent
	dir := t.TempDir()
	p := writeCorpus(t, dir, "big.jsonl.gz", lines)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, c := newFakeShoal(t, &fakeShoal{hook: func(k int, w http.ResponseWriter, r *http.Request) bool {
		if k < 8 {
			return false
		}
		// The 8th request: interrupt the load, as Ctrl-C does, and never
		// answer this one.
		cancel()
		_, _ = io.Copy(io.Discard, r.Body) // else a hang-up goes unnoticed
		<-r.Context().Done()
		return true
	}})
	opts := Options{Index: "books", Files: []string{p}, BatchDocs: 1000, Concurrency: 3}
	first, err := New(c, opts).Load(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first load: err = %v, want context.Canceled", err)
	}
	if first.Indexed == 0 || first.Indexed >= n-1 {
		t.Fatalf("first load indexed %d of %d: not interrupted in the middle", first.Indexed, n)
	}
	ck, err := ReadCheckpoint(p + CheckpointSuffix)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := StatFileKey(p)
	done, err := ck.Lines(key)
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(done.GetCardinality()); got != first.Indexed+first.Failed {
		t.Errorf("checkpoint holds %d lines, first run finished %d", got, first.Indexed+first.Failed)
	}

	srv.setHook(nil)
	opts.Resume = true
	second, err := New(c, opts).Load(context.Background())
	if err != nil {
		t.Fatalf("resumed load: %v", err)
	}
	if second.Skipped != first.Indexed+first.Failed {
		t.Errorf("resume skipped %d, first run finished %d", second.Skipped, first.Indexed+first.Failed)
	}
	if first.Indexed+second.Indexed != n-1 || first.Failed+second.Failed != 1 {
		t.Errorf("indexed %d+%d, failed %d+%d; want %d indexed and 1 failed in all",
			first.Indexed, second.Indexed, first.Failed, second.Failed, n-1)
	}
	if srv.count() != n-1 {
		t.Errorf("server holds %d documents, want %d", srv.count(), n-1)
	}

	// A third run skips everything.
	third, err := New(c, opts).Load(context.Background())
	if err != nil || third.Skipped != n || third.Indexed != 0 {
		t.Errorf("third run: %+v, %v", third, err)
	}
	// Without Resume the load starts over.
	opts.Resume = false
	fourth, err := New(c, opts).Load(context.Background())
	if err != nil || fourth.Skipped != 0 || fourth.Indexed != n-1 {
		t.Errorf("fresh run: %+v, %v", fourth, err)
	}
}

func TestLoadResumeRefusesMismatch(t *testing.T) {
	dir := t.TempDir()
	_, c := newFakeShoal(t, nil)
	p := writeCorpus(t, dir, "a.jsonl", docLines(10))
	if _, err := New(c, Options{Index: "books", Files: []string{p}}).Load(context.Background()); err != nil {
		t.Fatal(err)
	}

	t.Run("other index", func(t *testing.T) {
		_, err := New(c, Options{Index: "other", Files: []string{p}, Resume: true}).Load(context.Background())
		if !errors.Is(err, ErrCheckpointMismatch) {
			t.Errorf("err = %v, want ErrCheckpointMismatch", err)
		}
	})
	t.Run("changed file", func(t *testing.T) {
		writeCorpus(t, dir, "a.jsonl", docLines(11))
		_, err := New(c, Options{Index: "books", Files: []string{p}, Resume: true}).Load(context.Background())
		var fc *FileChangedError
		if !errors.As(err, &fc) || !errors.Is(err, ErrCheckpointMismatch) {
			t.Fatalf("err = %v, want a FileChangedError", err)
		}
		if !strings.Contains(err.Error(), "a.jsonl changed") {
			t.Errorf("message %q", err)
		}
	})
	t.Run("no checkpoint yet", func(t *testing.T) {
		q := writeCorpus(t, dir, "fresh.jsonl", docLines(4))
		s, err := New(c, Options{Index: "books", Files: []string{q}, Resume: true}).Load(context.Background())
		if err != nil || s.Indexed != 4 || s.Skipped != 0 {
			t.Errorf("%+v, %v", s, err)
		}
	})
}

func TestLoadOptionErrors(t *testing.T) {
	dir := t.TempDir()
	_, c := newFakeShoal(t, nil)
	p := writeCorpus(t, dir, "a.jsonl", docLines(1))
	tests := []struct {
		name string
		c    *client.Client
		opts Options
		want string
	}{
		{"no index", c, Options{Files: []string{p}}, "no index"},
		{"no files", c, Options{Index: "books"}, "no input files"},
		{"no client", nil, Options{Index: "books", Files: []string{p}}, "no client"},
		{"stdin resume", c, Options{Index: "books", Files: []string{"-"}, Resume: true}, "needs a checkpoint"},
		{"stdin twice", c, Options{Index: "books", Files: []string{"-", "-"}, NoCheckpoint: true}, "more than once"},
		{"missing file", c, Options{Index: "books", Files: []string{filepath.Join(dir, "nope")}}, "no such file"},
		{"unwritable checkpoint", c, Options{Index: "books", Files: []string{p}, Checkpoint: filepath.Join(dir, "x", "y")}, "save checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.c, tt.opts).Load(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestDefaultCheckpointPath(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Files: []string{"/d/a.jsonl", "/d/b.jsonl"}}, "/d/a.jsonl.checkpoint"},
		{Options{Files: []string{"/d/a.jsonl"}, Checkpoint: "/tmp/c"}, "/tmp/c"},
		{Options{Files: []string{"-"}}, ""},
		{Options{Files: []string{"-"}, Checkpoint: "/tmp/c"}, "/tmp/c"},
		{Options{Files: []string{"/d/a.jsonl"}, Checkpoint: "/tmp/c", NoCheckpoint: true}, ""},
	}
	for _, tt := range tests {
		if got := New(nil, tt.opts).CheckpointPath(); got != tt.want {
			t.Errorf("%+v: checkpoint %q, want %q", tt.opts, got, tt.want)
		}
	}
}

// TestLoadKeepsWritesToOneIDInOrder sends many batches in parallel that
// write the same ids again and again: the last write in the file wins.
func TestLoadKeepsWritesToOneIDInOrder(t *testing.T) {
	var lines []string
	for i := range 600 {
		lines = append(lines, fmt.Sprintf(`{"id":"u%d","v":%d}`, i, i))
		switch i % 3 {
		case 0:
			lines = append(lines, fmt.Sprintf(`{"id":"x","v":%d}`, i))
		case 1:
			lines = append(lines, `{"id":"y","_delete":true}`)
		case 2:
			lines = append(lines, fmt.Sprintf(`{"id":"y","v":%d}`, i))
		}
	}
	lines = append(lines, `{"id":"x","_delete":true}`)
	srv, c := newFakeShoal(t, nil)
	p := writeCorpus(t, t.TempDir(), "a.jsonl", lines)
	s, err := New(c, Options{Index: "books", Files: []string{p}, BatchDocs: 3, Concurrency: 8}).
		Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Indexed != 600+200+200 || s.Deleted != 201 {
		t.Errorf("summary %+v", s)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if _, ok := srv.docs["x"]; ok {
		t.Error("x was deleted last but exists")
	}
	if got := string(srv.docs["y"]); got != `{"id":"y","v":599}` {
		t.Errorf("y = %s, want its last version", got)
	}
	if len(srv.docs) != 601 {
		t.Errorf("server holds %d docs, want 601", len(srv.docs))
	}
}

func TestLoadRetriesDocumentsNotStored(t *testing.T) {
	tests := []struct {
		name     string
		flaky    map[string]int
		maxRetry time.Duration
		retries  int64
		wantErr  bool
	}{
		{name: "stored at the third try", flaky: map[string]int{"d3": 2, "d7": 1, "d8": 2}, retries: 2},
		{name: "never stored", flaky: map[string]int{"d5": 1 << 30}, maxRetry: 300 * time.Millisecond, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newFakeShoal(t, &fakeShoal{flaky: tt.flaky})
			p := writeCorpus(t, t.TempDir(), "a.jsonl", docLines(10))
			var errs bytes.Buffer
			s, err := New(c, Options{Index: "books", Files: []string{p}, MaxRetryTime: tt.maxRetry, Errors: &errs}).
				Load(context.Background())
			if tt.wantErr {
				if !errors.Is(err, client.ErrUnavailable) || !client.IsUnavailable(err) {
					t.Fatalf("err = %v, want one wrapping client.ErrUnavailable", err)
				}
				// The batch is not finished: nothing of it is recorded.
				ck, rerr := ReadCheckpoint(p + CheckpointSuffix)
				if rerr != nil {
					t.Fatal(rerr)
				}
				key, _ := StatFileKey(p)
				if done, _ := ck.Lines(key); !done.IsEmpty() {
					t.Errorf("checkpoint records %v", done)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Indexed != 10 || s.Failed != 0 || s.Retries != tt.retries || srv.count() != 10 || errs.Len() != 0 {
				t.Errorf("summary %+v, server %d docs, errors %q", s, srv.count(), errs.String())
			}
		})
	}
}

// BenchmarkLoad measures the loader alone against a server that accepts
// every batch at once: the documents per second the CLI can push.
func BenchmarkLoad(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, `{"indexed":%d}`, bytes.Count(body, []byte("\n")))
	}))
	defer srv.Close()
	c := client.New(srv.URL)
	const n = 100_000
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"id":"doc-%d","title":"title number %d","body":"%s"}`, i, i, strings.Repeat("lorem ipsum dolor ", 12))
	}
	p := writeCorpus(b, b.TempDir(), "bench.jsonl.gz", lines)
	b.ResetTimer()
	for range b.N {
		s, err := New(c, Options{Index: "books", Files: []string{p}, NoCheckpoint: true, Concurrency: 4}).
			Load(context.Background())
		if err != nil || s.Indexed != n {
			b.Fatalf("%+v, %v", s, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
}

// brokenWriter fails every write.
type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestLoadErrorsWriterFails(t *testing.T) {
	_, c := newFakeShoal(t, nil)
	p := writeCorpus(t, t.TempDir(), "a.jsonl", []string{`{"id":"a"}`, `bad`})
	_, err := New(c, Options{Index: "books", Files: []string{p}, Errors: brokenWriter{}}).Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	ck, rerr := ReadCheckpoint(p + CheckpointSuffix)
	if rerr != nil {
		t.Fatal(rerr)
	}
	key, _ := StatFileKey(p)
	if done, _ := ck.Lines(key); done.Contains(2) {
		t.Error("an unreported rejection is recorded as done")
	}
}

func TestLoadStdin(t *testing.T) {
	_, c := newFakeShoal(t, nil)
	dir := t.TempDir()
	p := writeCorpus(t, dir, "in.jsonl.gz", docLines(25))
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = saved }()

	var last Progress
	l := New(c, Options{Index: "books", Files: []string{"-"}, Progress: func(p Progress) { last = p }})
	if l.CheckpointPath() != "" {
		t.Errorf("checkpoint %q for standard input", l.CheckpointPath())
	}
	s, err := l.Load(context.Background())
	if err != nil || s.Indexed != 25 {
		t.Fatalf("%+v, %v", s, err)
	}
	if last.TotalBytes != 0 || last.Fraction() != -1 || last.ETA != 0 || last.BytesRead == 0 {
		t.Errorf("progress %+v: want unknown total and ETA", last)
	}
}
