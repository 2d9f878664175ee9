package apikeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/meta"
)

// Errors of Lookup and Revoke.
var (
	// ErrUnknownKey is a key that is malformed, was never created, was
	// revoked, or whose secret does not match.
	ErrUnknownKey = errors.New("unknown API key")
	// ErrExpiredKey is a key past its expires_at.
	ErrExpiredKey = errors.New("API key expired")
	// ErrKeyNotFound is a key id with no key, when revoking.
	ErrKeyNotFound = errors.New("no key with this id")
)

// Options configure a Store.
type Options struct {
	// Replicas is the replica count of the key bucket (3 on a
	// three-broker cluster).
	Replicas int
	Logger   *slog.Logger
}

// Store is the live set of API keys: the key bucket, followed.
type Store struct {
	kv  jetstream.KeyValue
	log *slog.Logger
	// now is the clock expiry is judged by.
	now func() time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.RWMutex
	keys map[string]*meta.KeyRecord
	// configured is set once the bucket is seen to have held a key: a
	// live one, or the deletion marker a revoked one leaves.
	configured bool
	changed    chan struct{}
}

// Open opens (creating it if needed) the key bucket and starts following
// it; it returns once the current keys are loaded.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	kv, err := meta.OpenKeyBucket(ctx, js, o.Replicas)
	if err != nil {
		return nil, err
	}
	// The watcher lives as long as the store, not as long as ctx, which
	// bounds only the opening.
	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("apikeys: watch %s: %w", meta.BucketKeys, err)
	}
	s := &Store{kv: kv, log: o.Logger, now: time.Now, cancel: cancel, keys: map[string]*meta.KeyRecord{}, changed: make(chan struct{})}
	ready := make(chan struct{}, 1)
	s.wg.Add(1)
	go s.follow(wctx, w, ready)
	select {
	case <-ready:
		return s, nil
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("apikeys: initial load: %w", ctx.Err())
	}
}

// Close stops following the bucket.
func (s *Store) Close() {
	s.cancel()
	s.wg.Wait()
}

func (s *Store) follow(ctx context.Context, w jetstream.KeyWatcher, ready chan<- struct{}) {
	defer s.wg.Done()
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				ready <- struct{}{}
				continue
			}
			s.apply(e)
		}
	}
}

func (s *Store) apply(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configured = true
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.keys, e.Key())
	} else if rec, err := meta.DecodeKeyRecord(e.Value()); err != nil || rec.ID != e.Key() {
		// A record that cannot be read grants nothing.
		delete(s.keys, e.Key())
		s.log.Error("apikeys: bad key record", "id", e.Key(), "err", err)
	} else {
		s.keys[e.Key()] = rec
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Len is the number of keys.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.keys)
}

// Configured reports whether the cluster has ever had a key: one exists,
// or one was revoked (a revocation leaves a deletion marker in the bucket,
// which coordinators started later see too). Once keys were configured,
// revoking the last one does not make the API open again; only removing
// the bucket itself (admin's NATS credentials) forgets them.
func (s *Store) Configured() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.configured
}

// Spec is what a new key may do.
type Spec struct {
	Description string
	Actions     []string
	Indexes     []string
	ExpiresAt   *time.Time
	Rate        float64
}

// Create makes a key for spec, stores its record and returns the record
// and the key, which is never seen again. It returns once the store's own
// view holds the key, so the key works here at once.
func (s *Store) Create(ctx context.Context, spec Spec) (*meta.KeyRecord, string, error) {
	key, id, hash, err := newKey()
	if err != nil {
		return nil, "", fmt.Errorf("apikeys: new key: %w", err)
	}
	now := s.now().UTC()
	rec := &meta.KeyRecord{
		ID: id, Hash: hash, Description: spec.Description,
		Actions: spec.Actions, Indexes: spec.Indexes, ExpiresAt: spec.ExpiresAt, Rate: spec.Rate, Created: now,
	}
	if err := rec.Validate(); err != nil {
		return nil, "", err
	}
	if rec.Expired(now) {
		return nil, "", fmt.Errorf("%w: expires_at is in the past", meta.ErrInvalidKey)
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.kv.Create(ctx, id, raw); err != nil {
		return nil, "", fmt.Errorf("apikeys: store key %s: %w", id, err)
	}
	if err := s.waitFor(ctx, func() bool { _, ok := s.record(id); return ok }); err != nil {
		return nil, "", fmt.Errorf("apikeys: key %s stored but not yet seen: %w", id, err)
	}
	out := *rec
	return &out, key, nil
}

// Revoke deletes the key id. Every store following the bucket drops it as
// soon as the deletion reaches it; this one before Revoke returns.
func (s *Store) Revoke(ctx context.Context, id string) error {
	if _, ok := s.record(id); !ok {
		return fmt.Errorf("%w: %s", ErrKeyNotFound, id)
	}
	if err := s.kv.Delete(ctx, id); err != nil {
		return fmt.Errorf("apikeys: revoke %s: %w", id, err)
	}
	return s.waitFor(ctx, func() bool { _, ok := s.record(id); return !ok })
}

// List returns every key's record, oldest first; the records hold hashes,
// never secrets.
func (s *Store) List() []meta.KeyRecord {
	s.mu.RLock()
	out := make([]meta.KeyRecord, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, *k)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Lookup returns the record of key: ErrUnknownKey unless key is a live
// key whose secret matches, ErrExpiredKey if it has expired. The secret
// is compared in constant time.
func (s *Store) Lookup(key string) (*meta.KeyRecord, error) {
	id, secret, ok := Parse(key)
	if !ok {
		return nil, ErrUnknownKey
	}
	rec, found := s.record(id)
	hash := rec.Hash
	if !found {
		hash = "" // compared all the same, so that timing does not say which ids exist
	}
	if !hashMatches(secret, hash) || !found {
		return nil, ErrUnknownKey
	}
	if rec.Expired(s.now()) {
		return nil, fmt.Errorf("%w at %s", ErrExpiredKey, rec.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return &rec, nil
}

// record returns a copy of the record of id.
func (s *Store) record(id string) (meta.KeyRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[id]
	if !ok {
		return meta.KeyRecord{}, false
	}
	return *k, true
}

// waitFor blocks until cond holds in the store's view or ctx ends.
func (s *Store) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.RLock()
		ch := s.changed
		s.mu.RUnlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
