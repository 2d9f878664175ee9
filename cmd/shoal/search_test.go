package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shoal-search/shoal/client"
)

const searchAnswer = `{"hits":[
 {"id":"go:net/http.Client.Do","score":8.1234,"fields":{"title":"http.Client.Do"},
  "fragments":{"title":["http.<mark>Client</mark>.Do"],"body":["Do sends an HTTP request &amp; returns\nan HTTP <mark>client</mark> response"]}},
 {"id":"x2","score":1.5,"fields":{},"fragments":{}}],
 "total_hits":1234,"max_score":8.1234,"took_ms":12,
 "coverage":{"docs":9870,"total":11280,"percent":87.5},
 "shards":{"total":8,"successful":7,"failed":1,"failures":[{"shard":3,"state":"unavailable","node":"b","copy":"b","reason":"no responders"}]},
 "partial":true,"timed_out":false}`

func TestSearchCommand(t *testing.T) {
	tests := []struct {
		name    string
		answer  string
		status  int
		args    []string
		want    []string // lines or fragments expected in stdout, in order
		wantErr string
		wantReq string // JSON the server must receive
	}{
		{
			name: "hits and partial warning", answer: searchAnswer,
			args: []string{"--index", "sample", "--size", "2", "--from", "4", "http", "client"},
			want: []string{
				"  5.   8.123  go:net/http.Client.Do  http.Client.Do\n",
				"      Do sends an HTTP request & returns an HTTP client response\n",
				"  6.   1.500  x2\n",
				"\n1,234 hits, showing 5-6, took 12 ms\n",
				"warning: partial results: 7 of 8 shards answered, 87.5% of the documents; failed: shard 3 unavailable (node b): no responders\n",
			},
			wantReq: `{"query":{"query":"http client"},"size":2,"from":4,"fields":["title"],"highlight":{"style":"html"}}`,
		},
		{
			name: "no hits", answer: `{"hits":[],"total_hits":0,"took_ms":1.5,"shards":{"total":2,"successful":2}}`,
			args:    []string{"--index", "sample", "--timeout", "300ms", "zzz"},
			want:    []string{"no hits, took 1.5 ms\n"},
			wantReq: `{"query":{"query":"zzz"},"size":10,"fields":["title"],"highlight":{"style":"html"},"timeout":"300ms"}`,
		},
		{
			name: "json", answer: searchAnswer, args: []string{"--index", "sample", "--json", "q"},
			want: []string{searchAnswer + "\n"},
		},
		{
			name: "bad query", status: 400, answer: `{"error":{"type":"invalid_body","reason":"parse error: unexpected ':'"}}`,
			args: []string{"--index", "sample", "a:"}, wantErr: "the server refused the query: parse error: unexpected ':'",
		},
		{
			name: "unknown index", args: []string{"--index", "nope", "q"}, wantErr: `index "nope" does not exist`,
		},
		{
			name: "no index flag", args: []string{"q"}, wantErr: "--index is required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, url := startFakeAPI(t, client.IndexInfo{Name: "sample", Shards: 8})
			api.search, api.status = tt.answer, tt.status
			stdout, _, err := runShoal(t, append([]string{"search", "--server", url}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rest := stdout
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output lacks %q (in order):\n%s", w, stdout)
				}
				rest = rest[i+len(w):]
			}
			if tt.wantReq != "" {
				var got, want any
				_ = json.Unmarshal([]byte(api.lastReq), &got)
				_ = json.Unmarshal([]byte(tt.wantReq), &want)
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				if string(gb) != string(wb) {
					t.Errorf("request %s\nwant %s", api.lastReq, tt.wantReq)
				}
			}
		})
	}
}

func TestRenderFragment(t *testing.T) {
	tests := []struct {
		in   string
		tty  bool
		want string
	}{
		{"a <mark>b</mark> c", false, "a b c"},
		{"a <mark>b</mark> c", true, "a \x1b[1mb\x1b[0m c"},
		{"x &lt;script&gt; &amp;\n\ty", false, "x <script> & y"},
		{"evil \x1b]0;title\x07 <mark>t</mark>", true, "evil ]0;title \x1b[1mt\x1b[0m"},
		{"<mark>" + strings.Repeat("w", 500) + "</mark>", true, "\x1b[1m" + strings.Repeat("w", 399) + "…\x1b[0m"},
		{"stand-in \ue000 removed", false, "stand-in removed"},
	}
	for _, tt := range tests {
		if got := renderFragment(tt.in, tt.tty); got != tt.want {
			t.Errorf("renderFragment(%q, %v) = %q, want %q", tt.in, tt.tty, got, tt.want)
		}
	}
}

func TestFirstFragment(t *testing.T) {
	tests := []struct {
		frags map[string][]string
		want  string
	}{
		{nil, ""},
		{map[string][]string{"title": {"t"}}, "t"},
		{map[string][]string{"title": {"t"}, "body": {"b1", "b2"}, "abstract": {}}, "b1"},
		{map[string][]string{"z": {"z"}, "a": {"a"}}, "a"},
	}
	for _, tt := range tests {
		if got := firstFragment(client.Hit{Fragments: tt.frags}); got != tt.want {
			t.Errorf("firstFragment(%v) = %q, want %q", tt.frags, got, tt.want)
		}
	}
}
