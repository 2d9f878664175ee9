package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-search/shoal/bulkload"
	"github.com/shoal-search/shoal/client"
)

// fakeAPI is a minimal stand-in for Shoal's HTTP API, enough to check how
// the client subcommands use it: index admin, bulk and search.
type fakeAPI struct {
	mu      sync.Mutex
	indexes map[string]client.IndexInfo
	created []string // bodies of PUT /v1/indexes/{name}
	docs    int
	search  string // body answered to searches
	status  int    // status of search answers (default 200)
	lastReq string // last search request body
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/indexes/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	name, sub, _ := strings.Cut(rest, "/")
	info, exists := f.indexes[name]
	fail := func(status int, typ, reason string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"type":%q,"reason":%q}}`, typ, reason)
	}
	switch {
	case r.Method == http.MethodPut && sub == "":
		if exists {
			fail(http.StatusConflict, "index_exists", "index exists")
			return
		}
		var s client.IndexSettings
		_ = json.Unmarshal(body, &s)
		f.created = append(f.created, string(body))
		f.indexes[name] = client.IndexInfo{Name: name, Shards: cmpOr(s.Shards, 4), Replicas: cmpOr(s.Replicas, 1)}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"acknowledged":true}`)
	case !exists:
		fail(http.StatusNotFound, "index_not_found", "no index "+name)
	case r.Method == http.MethodGet && sub == "":
		_ = json.NewEncoder(w).Encode(info)
	case r.Method == http.MethodPost && sub == "bulk":
		var res client.BulkResult
		for i, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			if strings.Contains(line, `"reject"`) {
				res.Failed++
				res.Errors = append(res.Errors, client.BulkError{Line: i + 1, Error: "rejected"})
				continue
			}
			res.Indexed++
			f.docs++
		}
		_ = json.NewEncoder(w).Encode(res)
	case sub == "search":
		f.lastReq = string(body)
		w.WriteHeader(cmpOr(f.status, 200))
		fmt.Fprint(w, f.search)
	default:
		http.NotFound(w, r)
	}
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func startFakeAPI(t *testing.T, indexes ...client.IndexInfo) (*fakeAPI, string) {
	t.Helper()
	f := &fakeAPI{indexes: map[string]client.IndexInfo{}}
	for _, ix := range indexes {
		f.indexes[ix.Name] = ix
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// runShoal runs the shoal command line with args and returns its output.
func runShoal(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func writeLines(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "docs.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIndexCommand(t *testing.T) {
	books := client.IndexInfo{Name: "books", Shards: 4, Replicas: 1}
	good := []string{`{"id":"a"}`, `{"id":"b"}`, `{"id":"c"}`}
	tests := []struct {
		name        string
		existing    []client.IndexInfo
		lines       []string
		args        []string // after "index --server URL", before the file
		env         map[string]string
		wantErr     string // substring; "" for success
		wantCode    int    // exit code for errors
		wantOut     string // substring of stdout
		wantCreated []string
		wantDocs    int
	}{
		{
			name: "existing index", existing: []client.IndexInfo{books}, lines: good,
			args: []string{"--index", "books"}, wantOut: "indexed 3, deleted 0, failed 0 in ", wantDocs: 3,
		},
		{
			name: "missing index", lines: good, args: []string{"--index", "books"},
			wantErr: `index "books" does not exist; add --create`, wantCode: 1,
		},
		{
			name: "create", lines: good, args: []string{"--index", "books", "--create", "--shards", "8", "--replicas", "2"},
			wantCreated: []string{`{"shards":8,"replicas":2}`}, wantDocs: 3, wantOut: "indexed 3,",
		},
		{
			name: "create with server defaults", lines: good, args: []string{"--index", "books", "--create"},
			wantCreated: []string{`{}`}, wantDocs: 3,
		},
		{
			name: "create existing same settings", existing: []client.IndexInfo{books}, lines: good,
			args: []string{"--index", "books", "--create", "--shards", "4"}, wantDocs: 3,
		},
		{
			name: "create existing other settings", existing: []client.IndexInfo{books}, lines: good,
			args:    []string{"--index", "books", "--create", "--shards", "8", "--replicas", "3"},
			wantErr: `index "books" already exists with 4 shards, not 8 and 1 replicas, not 3`, wantCode: 1,
		},
		{
			name: "failed documents", existing: []client.IndexInfo{books},
			lines: []string{`{"id":"a"}`, `{"id":"b","reject":1}`, `not json`},
			args:  []string{"--index", "books"}, wantErr: "2 documents failed; they are listed in standard error",
			wantCode: 2, wantOut: "indexed 1, deleted 0, failed 2", wantDocs: 1,
		},
		{
			name: "flags from the environment", existing: []client.IndexInfo{books}, lines: good,
			env: map[string]string{"SHOAL_INDEX": "books", "SHOAL_BATCH": "1"}, wantDocs: 3,
		},
		{
			name: "no index", lines: good, wantErr: "--index is required", wantCode: 1,
		},
		{
			name: "resume without checkpoint", existing: []client.IndexInfo{books}, lines: good,
			args: []string{"--index", "books", "--resume", "--no-checkpoint"}, wantErr: "--resume needs a checkpoint", wantCode: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, url := startFakeAPI(t, tt.existing...)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			file := writeLines(t, tt.lines...)
			args := append(append([]string{"index", "--server", url}, tt.args...), file)
			stdout, stderr, err := runShoal(t, args...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("error %v\nstderr: %s", err, stderr)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if got := exitCode(err); got != tt.wantCode {
					t.Errorf("exit code %d, want %d", got, tt.wantCode)
				}
			}
			if !strings.Contains(stdout, tt.wantOut) {
				t.Errorf("stdout %q lacks %q", stdout, tt.wantOut)
			}
			api.mu.Lock()
			defer api.mu.Unlock()
			if api.docs != tt.wantDocs {
				t.Errorf("server got %d docs, want %d", api.docs, tt.wantDocs)
			}
			if fmt.Sprint(api.created) != fmt.Sprint(tt.wantCreated) {
				t.Errorf("created %v, want %v", api.created, tt.wantCreated)
			}
		})
	}
}

func TestIndexCommandErrorsFile(t *testing.T) {
	_, url := startFakeAPI(t, client.IndexInfo{Name: "books", Shards: 1})
	file := writeLines(t, `{"id":"a"}`, `{"id":"b","reject":1}`)
	errPath := filepath.Join(t.TempDir(), "rejected.jsonl")
	_, stderr, err := runShoal(t, "index", "--server", url, "--index", "books", "--errors", errPath, file)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), errPath) {
		t.Fatalf("error %v, want exit 2 naming %s", err, errPath)
	}
	data, rerr := os.ReadFile(errPath)
	if rerr != nil {
		t.Fatal(rerr)
	}
	var rec struct {
		File  string `json:"file"`
		Line  int    `json:"line"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(data, &rec); err != nil || rec.File != file || rec.Line != 2 || rec.Error != "rejected" {
		t.Errorf("errors file %q (%v)", data, err)
	}
	if strings.Contains(stderr, "rejected:") {
		t.Errorf("rejections printed although --errors was given: %s", stderr)
	}
}

func TestIndexCommandUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, _, err := runShoal(t, "index", "--server", url, "--index", "books", writeLines(t, `{"id":"a"}`))
	if err == nil || !strings.Contains(err.Error(), "cannot reach the Shoal server") {
		t.Errorf("error %v", err)
	}
}

func TestSummaryLine(t *testing.T) {
	tests := []struct {
		s      bulkload.Summary
		resume bool
		want   string
	}{
		{bulkload.Summary{Indexed: 20000, Elapsed: 12345 * time.Millisecond, DocsPerSec: 4567.4},
			false, "indexed 20,000, deleted 0, failed 0 in 12.3s (4,567 docs/s)"},
		{bulkload.Summary{Indexed: 5, Deleted: 2, Failed: 1, Skipped: 1234567, Elapsed: 90 * time.Second, DocsPerSec: 0.1},
			true, "indexed 5, deleted 2, failed 1, skipped 1,234,567 (resume) in 1m30s (0 docs/s)"},
		{bulkload.Summary{Indexed: 1, Retries: 3, Elapsed: time.Second, DocsPerSec: 1},
			false, "indexed 1, deleted 0, failed 0 in 1.0s (1 docs/s), 3 retried requests"},
	}
	for _, tt := range tests {
		if got := summaryLine(tt.s, tt.resume); got != tt.want {
			t.Errorf("summaryLine = %q\nwant %q", got, tt.want)
		}
	}
}

func TestProgressLines(t *testing.T) {
	p := bulkload.Progress{Acked: 12345, BytesRead: 45_600_000, TotalBytes: 120_000_000,
		DocsPerSec: 4567, ETA: 83 * time.Second, Elapsed: 3 * time.Second}
	tests := []struct {
		name     string
		got      string
		want     string
		maxWidth int
	}{
		{"plain", progressText(p), "12,345 docs (45.6 of 120.0 MB, 38%), 4,567 docs/s, ETA 1:23", 0},
		{"bar", barLine(p, 80, false), "[=======>            ]  38%  12,345 docs  45.6/120.0 MB  4,567 docs/s  ETA 1:23", 80},
		{"full", barLine(bulkload.Progress{Acked: 1, BytesRead: 10, TotalBytes: 10}, 80, false), "[====================] 100%  1 docs  0.0/0.0 MB  0 docs/s", 80},
		{"no room for a bar", barLine(p, 60, false), "12,345 docs  45.6/120.0 MB  4,567 docs/s  ETA 1:23", 60},
		{"too narrow", barLine(p, 30, false), "12,345 docs  45.6/120.0 MB  4,", 30},
		{"unknown size", barLine(bulkload.Progress{Acked: 7, BytesRead: 1_000_000, Failed: 2, Skipped: 3}, 80, true),
			"7 docs, 2 failed, 3 skipped  1.0 MB  0 docs/s  (server unavailable, retrying)", 80},
		{"plain unknown size", progressText(bulkload.Progress{Acked: 7, BytesRead: 1_000_000, Retries: 2}),
			"7 docs (1.0 MB), 0 docs/s, 2 retries", 0},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, tt.got, tt.want)
		}
		if tt.maxWidth > 0 && len(tt.got) > tt.maxWidth {
			t.Errorf("%s: %d columns, more than %d", tt.name, len(tt.got), tt.maxWidth)
		}
	}
}

func TestProgressUIPlain(t *testing.T) {
	var buf bytes.Buffer
	ui := newProgressUI(&buf)
	for _, s := range []int{0, 1, 2, 3, 4, 5} {
		ui.update(bulkload.Progress{Acked: int64(s), Elapsed: time.Duration(s) * time.Second})
	}
	ui.update(bulkload.Progress{Done: true, Elapsed: 9 * time.Second})
	ui.clear()
	if got := strings.Count(buf.String(), "progress: "); got != 2 {
		t.Errorf("%d progress lines in 5 s, want 2 (every 2 s):\n%s", got, buf.String())
	}
	if strings.Contains(buf.String(), "\r") {
		t.Error("carriage return written to a non-terminal")
	}
}

func TestRejectPrinter(t *testing.T) {
	var buf bytes.Buffer
	r := &rejectPrinter{ui: newProgressUI(&buf), max: 2}
	for i := range 5 {
		fmt.Fprintf(r, "{\"line\":%d}\n", i)
	}
	want := "rejected: {\"line\":0}\nrejected: {\"line\":1}\nrejected: … more not shown; use --errors FILE to keep them all\n"
	if buf.String() != want {
		t.Errorf("got %q\nwant %q", buf.String(), want)
	}
}

func TestFormatters(t *testing.T) {
	tests := []struct{ got, want string }{
		{commas(0), "0"},
		{commas(999), "999"},
		{commas(1000), "1,000"},
		{commas(-1234567), "-1,234,567"},
		{mb(1_234_567), "1.2"},
		{seconds(1500 * time.Millisecond), "1.5s"},
		{seconds(3725 * time.Second), "1h2m5s"},
		{clock(59 * time.Second), "0:59"},
		{clock(3725 * time.Second), "1:02:05"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
