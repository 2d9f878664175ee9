package apikeys

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/internal/testbroker"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
)

// openStores starts an embedded broker and opens n stores on it, each on
// its own connection with a coordinator's credentials, as n coordinators
// would.
func openStores(t *testing.T, n int) []*Store {
	t.Helper()
	open := storeOpener(t)
	var out []*Store
	for i := 0; i < n; i++ {
		out = append(out, open())
	}
	return out
}

// storeOpener starts an embedded broker and returns a function that opens
// a store on it, on a connection of its own with a coordinator's
// credentials, as a coordinator starting would.
func storeOpener(t *testing.T) func() *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	connect := testbroker.Closed(ctx, t)
	return func() *Store {
		js := connect.JetStream(t, broker.RoleCoordinator, "")
		s, err := Open(ctx, js, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
}

func TestCreateLookupRevoke(t *testing.T) {
	stores := openStores(t, 2)
	a, b := stores[0], stores[1]
	ctx := context.Background()
	rec, key, err := a.Create(ctx, Spec{Actions: []string{meta.ActionSearch}, Indexes: []string{"logs-*"}, Rate: 5, Description: "site search"})
	if err != nil {
		t.Fatal(err)
	}
	if id, _, ok := Parse(key); !ok || id != rec.ID {
		t.Fatalf("key %q does not parse to its id %s", key, rec.ID)
	}
	if strings.Contains(rec.Hash, key[len(key)-secretLen:]) || len(rec.Hash) != 64 {
		t.Fatalf("the record holds %q, not a SHA-256 of the secret", rec.Hash)
	}
	got, err := a.Lookup(key)
	if err != nil || got.ID != rec.ID || !got.Allows(meta.ActionSearch, "logs-2024") || got.Allows(meta.ActionSearch, "books") {
		t.Fatalf("lookup on the creating store: %+v, %v", got, err)
	}
	// The other coordinator learns the key from the bucket.
	testwait.For(t, 5*time.Second, 5*time.Millisecond, func() error {
		_, err := b.Lookup(key)
		return err
	})
	for _, bad := range []string{
		key[:len(key)-1] + flip(key[len(key)-1]), // right id, wrong secret
		"shoal_0000000000000000_" + key[len(key)-secretLen:],
		"", "Bearer " + key, key + "x", strings.ToUpper(key),
	} {
		if _, err := b.Lookup(bad); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("lookup %q: %v, want ErrUnknownKey", bad, err)
		}
	}
	if list := b.List(); len(list) != 1 || list[0].ID != rec.ID || list[0].Rate != 5 {
		t.Fatalf("list: %+v", list)
	}

	start := time.Now()
	if err := a.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Lookup(key); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("the revoking store still takes the key: %v", err)
	}
	testwait.For(t, time.Second, time.Millisecond, func() error {
		if _, err := b.Lookup(key); !errors.Is(err, ErrUnknownKey) {
			return errors.New("the other store still takes the revoked key")
		}
		return nil
	})
	t.Logf("revocation reached the other store in %v", time.Since(start))
	if err := a.Revoke(ctx, rec.ID); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	if b.Len() != 0 {
		t.Fatalf("%d keys left", b.Len())
	}
}

// TestConfiguredAfterLastRevocation: a store knows the cluster has had
// keys once any was created, and still after the last one is revoked, on
// every coordinator, and on one that opens the bucket only afterwards
// (the revocation's deletion marker tells it), so that revoking the last
// key never reopens the API.
func TestConfiguredAfterLastRevocation(t *testing.T) {
	open := storeOpener(t)
	a, b := open(), open()
	if a.Configured() || b.Configured() {
		t.Fatal("configured before any key was created")
	}
	ctx := context.Background()
	rec, _, err := a.Create(ctx, Spec{Actions: []string{meta.ActionSearch}, Indexes: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Configured() {
		t.Fatal("not configured with a key")
	}
	if err := a.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 5*time.Second, 5*time.Millisecond, func() error {
		if b.Len() != 0 {
			return errors.New("the other store has not seen the revocation")
		}
		return nil
	})
	for name, s := range map[string]*Store{"revoking": a, "other": b, "opened afterwards": open()} {
		if s.Len() != 0 || !s.Configured() {
			t.Errorf("%s store after the last key was revoked: %d keys, configured %v; want 0, true", name, s.Len(), s.Configured())
		}
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestExpiry(t *testing.T) {
	s := openStores(t, 1)[0]
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	exp := now.Add(time.Hour)
	_, key, err := s.Create(ctx, Spec{Actions: []string{meta.ActionGet}, Indexes: []string{"*"}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(key); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	now = exp
	if _, err := s.Lookup(key); !errors.Is(err, ErrExpiredKey) {
		t.Fatalf("at expiry: %v, want ErrExpiredKey", err)
	}
	past := now.Add(-time.Second)
	if _, _, err := s.Create(ctx, Spec{Actions: []string{meta.ActionGet}, Indexes: []string{"*"}, ExpiresAt: &past}); !errors.Is(err, meta.ErrInvalidKey) {
		t.Fatalf("a key that expired already: %v", err)
	}
}

func TestCreateRefusesBadSpecs(t *testing.T) {
	s := openStores(t, 1)[0]
	for name, spec := range map[string]Spec{
		"no actions":     {Indexes: []string{"*"}},
		"unknown action": {Actions: []string{"delete"}, Indexes: []string{"*"}},
		"no indexes":     {Actions: []string{meta.ActionSearch}},
		"bad index":      {Actions: []string{meta.ActionSearch}, Indexes: []string{"Logs"}},
		"star inside":    {Actions: []string{meta.ActionSearch}, Indexes: []string{"a*b"}},
		"negative rate":  {Actions: []string{meta.ActionSearch}, Indexes: []string{"*"}, Rate: -1},
	} {
		if _, _, err := s.Create(context.Background(), spec); !errors.Is(err, meta.ErrInvalidKey) {
			t.Errorf("%s: %v, want ErrInvalidKey", name, err)
		}
	}
	if s.Len() != 0 {
		t.Fatalf("bad specs stored %d keys", s.Len())
	}
}

func TestEqual(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"secret", "secret", true},
		{"secret", "secreT", false},
		{"secret", "secret2", false},
		{"", "", true},
		{"", "x", false},
	} {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}
