package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testwait"
)

// masterKey is the --api-key of the keyed test clusters.
const masterKey = "test-master-key"

// caller sends requests to one frontend with one key ("" for none).
type caller struct {
	base, key string
	hc        *http.Client
}

// answer is a response as a test reads it.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.status, a.body) }

// errType is the error type of an error answer ("" if none).
func (a answer) errType() string {
	var e errorBody
	_ = json.Unmarshal(a.body, &e)
	return e.Error.Type
}

// send sends a request whose body (if any) has content type ctype.
func (c caller) send(t testing.TB, method, path, ctype, body string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	hc := c.hc
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, raw}
}

// do sends a request with a JSON body (if any).
func (c caller) do(t testing.TB, method, path, body string) answer {
	t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	return c.send(t, method, path, ctype, body)
}

// want requires status of a request with a JSON body.
func (c caller) want(t testing.TB, status int, method, path, body string) answer {
	t.Helper()
	a := c.do(t, method, path, body)
	if a.status != status {
		t.Fatalf("%s %s with key %.12q: %s, want %d", method, path, c.key, a, status)
	}
	return a
}

// newKey creates a key with the master key and returns it.
func newKey(t testing.TB, master caller, spec string) string {
	t.Helper()
	a := master.want(t, http.StatusCreated, "POST", "/v1/keys", spec)
	var out struct {
		ID, Key string
	}
	if err := json.Unmarshal(a.body, &out); err != nil || out.ID == "" || !strings.HasPrefix(out.Key, "shoal_"+out.ID+"_") {
		t.Fatalf("POST /v1/keys answered %s", a)
	}
	return out.Key
}

// keyID is the id part of a key.
func keyID(key string) string { return strings.Split(key, "_")[1] }

// secondFrontend starts another coordinator on c's broker, as a second
// `shoal coordinator` process would be, with web options o.
func secondFrontend(t *testing.T, c *cluster.Cluster, adjust func(*cluster.FrontendOptions)) *cluster.Frontend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := c.Connect(ctx, "second-coordinator", broker.RoleCoordinator, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	o := cluster.FrontendOptions{HTTPAddr: "127.0.0.1:0"}
	adjust(&o)
	f, err := cluster.StartFrontend(ctx, nc, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func TestKeys(t *testing.T) {
	c := testcluster.Start(t, 2, func(o *cluster.Options) {
		o.Frontend.Web.APIKey = masterKey
		o.Frontend.Metrics = cluster.NewRegistry()
	})
	master := caller{base: c.URL(), key: masterKey}
	anon := caller{base: c.URL()}
	for _, idx := range []string{"books", "logs-2024", "other"} {
		master.want(t, http.StatusCreated, "PUT", "/v1/indexes/"+idx, `{"shards":2}`)
		master.want(t, http.StatusOK, "PUT", "/v1/indexes/"+idx+"/docs/d1?refresh=wait_for", `{"title":"river"}`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("OpenRoutes", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", "/", "/static/app.js", "/static/style.css"} {
			anon.want(t, http.StatusOK, "GET", path, "")
		}
	})
	t.Run("EveryRouteNeedsAKey", func(t *testing.T) {
		for _, r := range [][2]string{
			{"GET", "/v1/indexes"}, {"GET", "/v1/indexes/books"}, {"GET", "/v1/indexes/books/search?q=river"},
			{"POST", "/v1/indexes/books/search"}, {"GET", "/v1/indexes/books/docs/d1"}, {"GET", "/v1/cluster"},
			{"GET", "/metrics"}, {"GET", "/v1/keys"}, {"DELETE", "/v1/indexes/books/docs/d1"}, {"DELETE", "/v1/indexes/books"},
		} {
			a := anon.do(t, r[0], r[1], "")
			if a.status != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s without a key: %s, want 401 with WWW-Authenticate", r[0], r[1], a)
			}
			if a := (caller{base: c.URL(), key: masterKey + "x"}).do(t, r[0], r[1], ""); a.status != http.StatusUnauthorized {
				t.Errorf("%s %s with a wrong master key: %s", r[0], r[1], a)
			}
		}
	})

	search := caller{base: c.URL(), key: newKey(t, master, `{"actions":["search"],"indexes":["books"],"description":"site"}`)}
	logs := caller{base: c.URL(), key: newKey(t, master, `{"actions":["search","get","write"],"indexes":["logs-*"]}`)}

	t.Run("SearchOnlyKey", func(t *testing.T) {
		search.want(t, http.StatusOK, "GET", "/v1/indexes/books/search?q=river", "")
		search.want(t, http.StatusOK, "POST", "/v1/indexes/books/search", `{"query":{"query":"river"}}`)
		search.want(t, http.StatusOK, "GET", "/v1/indexes/books", "")
		for _, r := range [][3]string{
			{"POST", "/v1/indexes/books/bulk", `{"id":"x","title":"y"}`},
			{"PUT", "/v1/indexes/books/docs/x", `{"title":"y"}`},
			{"DELETE", "/v1/indexes/books/docs/d1", ""},
			{"GET", "/v1/indexes/books/docs/d1", ""},
			{"DELETE", "/v1/indexes/books", ""},
			{"PUT", "/v1/indexes/new", `{}`},
			{"GET", "/v1/cluster", ""},
			{"GET", "/v1/keys", ""},
			{"POST", "/v1/keys", `{"actions":["admin"],"indexes":["*"]}`},
		} {
			if a := search.do(t, r[0], r[1], r[2]); a.status != http.StatusForbidden || a.errType() != "forbidden" {
				t.Errorf("%s %s with a search-only key: %s, want 403 forbidden", r[0], r[1], a)
			}
		}
	})
	t.Run("IndexScopedKey", func(t *testing.T) {
		search.want(t, http.StatusForbidden, "GET", "/v1/indexes/other/search?q=river", "")
		search.want(t, http.StatusForbidden, "GET", "/v1/indexes/other", "")
		logs.want(t, http.StatusOK, "GET", "/v1/indexes/logs-2024/search?q=river", "")
		logs.want(t, http.StatusOK, "GET", "/v1/indexes/logs-2024/docs/d1", "")
		logs.want(t, http.StatusOK, "PUT", "/v1/indexes/logs-2024/docs/d2", `{"title":"sea"}`)
		logs.want(t, http.StatusForbidden, "PUT", "/v1/indexes/books/docs/d2", `{"title":"sea"}`)
		logs.want(t, http.StatusForbidden, "GET", "/v1/indexes/other/docs/d1", "")
		// A listing shows only the indexes the key covers.
		for _, tt := range []struct {
			c    caller
			want []string
		}{{search, []string{"books"}}, {logs, []string{"logs-2024"}}, {master, []string{"books", "logs-2024", "other"}}} {
			var out struct{ Indexes []struct{ Name string } }
			_ = json.Unmarshal(tt.c.want(t, http.StatusOK, "GET", "/v1/indexes", "").body, &out)
			var names []string
			for _, i := range out.Indexes {
				names = append(names, i.Name)
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("key %.12q lists %v, want %v", tt.c.key, names, tt.want)
			}
		}
	})
	t.Run("ScopedAdminKey", func(t *testing.T) {
		// An admin key of one tenant sees its own indexes in /v1/cluster,
		// not another's, and may not read /metrics, labelled by index.
		admin := caller{base: c.URL(), key: newKey(t, master, `{"actions":["admin"],"indexes":["logs-*"]}`)}
		var out struct {
			Placement map[string]any
			Nodes     []struct{ Copies []struct{ Index string } }
		}
		if err := json.Unmarshal(admin.want(t, http.StatusOK, "GET", "/v1/cluster", "").body, &out); err != nil {
			t.Fatal(err)
		}
		if _, ok := out.Placement["logs-2024"]; !ok || len(out.Placement) != 1 {
			t.Errorf("a key for logs-* sees the placement of %v", slices.Sorted(maps.Keys(out.Placement)))
		}
		copies := 0
		for _, n := range out.Nodes {
			for _, cp := range n.Copies {
				copies++
				if cp.Index != "logs-2024" {
					t.Errorf("a key for logs-* sees a copy of %q", cp.Index)
				}
			}
		}
		if copies == 0 {
			t.Error("a key for logs-* sees no copy of logs-2024")
		}
		admin.want(t, http.StatusForbidden, "GET", "/metrics", "")
		all := caller{base: c.URL(), key: newKey(t, master, `{"actions":["admin"],"indexes":["*"]}`)}
		all.want(t, http.StatusOK, "GET", "/metrics", "")
		if err := json.Unmarshal(all.want(t, http.StatusOK, "GET", "/v1/cluster", "").body, &out); err != nil || len(out.Placement) != 3 {
			t.Errorf("a key for every index sees the placement of %d indexes (%v), want 3", len(out.Placement), err)
		}
		master.want(t, http.StatusOK, "DELETE", "/v1/keys/"+keyID(admin.key), "")
		master.want(t, http.StatusOK, "DELETE", "/v1/keys/"+keyID(all.key), "")
	})
	t.Run("ListShowsNoSecret", func(t *testing.T) {
		a := master.want(t, http.StatusOK, "GET", "/v1/keys", "")
		var out struct{ Keys []map[string]any }
		if err := json.Unmarshal(a.body, &out); err != nil || len(out.Keys) != 2 {
			t.Fatalf("GET /v1/keys: %s", a)
		}
		for _, k := range out.Keys {
			if _, ok := k["key"]; ok || k["hash"] != nil || strings.Contains(string(a.body), search.key[len(search.key)-20:]) {
				t.Fatalf("GET /v1/keys shows a secret: %s", a)
			}
		}
	})
	t.Run("BadKeySpecs", func(t *testing.T) {
		for _, spec := range []string{`{"actions":["read"],"indexes":["*"]}`, `{"actions":["search"]}`, `{"actions":["search"],"indexes":["*"],"rate":-1}`,
			`{"actions":["search"],"indexes":["*"],"expires_at":"2001-01-01T00:00:00Z"}`, `{"actions":["search"],"indexes":["*"],"colour":1}`} {
			if a := master.do(t, "POST", "/v1/keys", spec); a.status != http.StatusBadRequest {
				t.Errorf("POST /v1/keys %s: %s, want 400", spec, a)
			}
		}
		master.want(t, http.StatusNotFound, "DELETE", "/v1/keys/0123456789abcdef", "")
	})
	t.Run("Expiry", func(t *testing.T) {
		exp := time.Now().Add(500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
		k := caller{base: c.URL(), key: newKey(t, master, `{"actions":["search"],"indexes":["*"],"expires_at":"`+exp+`"}`)}
		k.want(t, http.StatusOK, "GET", "/v1/indexes/books/search?q=river", "")
		testwait.For(t, 5*time.Second, 20*time.Millisecond, func() error {
			if a := k.do(t, "GET", "/v1/indexes/books/search?q=river", ""); a.status != http.StatusUnauthorized || !strings.Contains(string(a.body), "expired") {
				return fmt.Errorf("an expired key: %s", a)
			}
			return nil
		})
	})
	t.Run("RevokedOnTwoCoordinators", func(t *testing.T) {
		second := secondFrontend(t, c, func(o *cluster.FrontendOptions) { o.Web.APIKey = masterKey })
		k := newKey(t, master, `{"actions":["search"],"indexes":["books"]}`)
		on := []caller{{base: c.URL(), key: k}, {base: second.URL(), key: k}}
		testwait.For(t, 5*time.Second, 10*time.Millisecond, func() error {
			if a := on[1].do(t, "GET", "/v1/indexes/books/search?q=river", ""); a.status != http.StatusOK {
				return fmt.Errorf("the second coordinator: %s", a)
			}
			return nil
		})
		start := time.Now()
		master.want(t, http.StatusOK, "DELETE", "/v1/keys/"+keyID(k), "")
		for i, cl := range on {
			testwait.For(t, time.Second, 5*time.Millisecond, func() error {
				if a := cl.do(t, "GET", "/v1/indexes/books/search?q=river", ""); a.status != http.StatusUnauthorized {
					return fmt.Errorf("coordinator %d still takes the revoked key: %s", i+1, a)
				}
				return nil
			})
		}
		t.Logf("revoked on both coordinators within %v", time.Since(start).Round(time.Millisecond))
	})
	t.Run("RateLimit", func(t *testing.T) {
		k := caller{base: c.URL(), key: newKey(t, master, `{"actions":["search"],"indexes":["books"],"rate":2}`)}
		var limited answer
		for i := 0; i < 10 && limited.status == 0; i++ {
			if a := k.do(t, "GET", "/v1/indexes/books", ""); a.status == http.StatusTooManyRequests {
				limited = a
			} else if a.status != http.StatusOK {
				t.Fatalf("request %d: %s", i, a)
			}
		}
		secs, err := strconv.Atoi(limited.header.Get("Retry-After"))
		if limited.errType() != "rate_limited" || err != nil || secs < 1 {
			t.Fatalf("10 requests at once with a rate of 2/s: last %s, Retry-After %q", limited, limited.header.Get("Retry-After"))
		}
		// Other keys, and the master key, are not slowed down.
		search.want(t, http.StatusOK, "GET", "/v1/indexes/books", "")
		master.want(t, http.StatusOK, "GET", "/v1/indexes/books", "")
		testwait.For(t, 5*time.Second, 100*time.Millisecond, func() error {
			if a := k.do(t, "GET", "/v1/indexes/books", ""); a.status != http.StatusOK {
				return errors.New(a.String())
			}
			return nil
		})
	})
	// Last, since it revokes every key.
	t.Run("RevokingTheLastKeyKeepsItClosed", func(t *testing.T) {
		testLastKeyRevoked(t, c, master, search)
	})
}

// testLastKeyRevoked: a coordinator without --api-key needs keys while the
// cluster has any, and goes on needing them once every key is revoked,
// rather than falling back to the open API of a cluster that never had a
// key; so does one started after the revocation. revoked is a key that
// existed.
func testLastKeyRevoked(t *testing.T, c *cluster.Cluster, master, revoked caller) {
	noMaster := func(o *cluster.FrontendOptions) {}
	second := secondFrontend(t, c, noMaster)
	anon := caller{base: second.URL()}
	anon.want(t, http.StatusUnauthorized, "GET", "/v1/indexes", "")
	var list struct{ Keys []struct{ ID string } }
	if err := json.Unmarshal(master.want(t, http.StatusOK, "GET", "/v1/keys", "").body, &list); err != nil || len(list.Keys) == 0 {
		t.Fatalf("GET /v1/keys: %v %+v", err, list)
	}
	for _, k := range list.Keys {
		master.want(t, http.StatusOK, "DELETE", "/v1/keys/"+k.ID, "")
	}
	// The revocations have reached the second coordinator.
	onSecond := caller{base: second.URL(), key: revoked.key}
	testwait.For(t, 5*time.Second, 10*time.Millisecond, func() error {
		if a := onSecond.do(t, "GET", "/v1/indexes/books/search?q=river", ""); a.status != http.StatusUnauthorized {
			return fmt.Errorf("the second coordinator still takes a revoked key: %s", a)
		}
		return nil
	})
	third := caller{base: secondFrontend(t, c, noMaster).URL()}
	for name, cl := range map[string]caller{"running": anon, "started after the revocation": third} {
		for _, r := range [][2]string{{"GET", "/v1/indexes"}, {"GET", "/v1/indexes/books/search?q=river"}, {"DELETE", "/v1/indexes/books"}} {
			if a := cl.do(t, r[0], r[1], ""); a.status != http.StatusUnauthorized {
				t.Errorf("%s coordinator without a master key, every key revoked: %s %s without a key: %s, want 401", name, r[0], r[1], a)
			}
		}
		cl.want(t, http.StatusOK, "GET", "/healthz", "")
	}
	master.want(t, http.StatusOK, "GET", "/v1/indexes", "")
}
