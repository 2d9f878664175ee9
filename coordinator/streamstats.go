package coordinator

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

const (
	// streamStatsTTL is how long an index's stream figures are reused
	// before they are asked again.
	streamStatsTTL = 5 * time.Second
	// streamStatsTimeout bounds one request for an index's stream
	// figures.
	streamStatsTimeout = 5 * time.Second
	// streamStatsForget is how long the figures of an index nobody
	// searches are kept (a deleted index's, among them).
	streamStatsForget = 12 * streamStatsTTL
)

// streamStats caches what each index's stream says of its documents: how
// many (a delete counts until compacted) and their average stored size,
// for the memory estimate (checkMemory).
//
// A search never waits for its stream to answer when figures are held,
// however old: a stream whose leader is gone (its broker killed, no new
// one elected yet) leaves the request without any answer for seconds, and
// a search waiting on it would spend its whole timeout there, then fail
// on every shard. Figures older than streamStatsTTL are used while one
// request, in the background and bounded by streamStatsTimeout, brings
// them up to date. Only a search that finds no figures at all waits for
// them, and for at most a quarter of its time.
type streamStats struct {
	mu    sync.Mutex
	byUID map[string]*streamFigures
}

// indexStats are an index's stream figures, and when they were read.
type indexStats struct {
	docs, avgBytes int64
	at             time.Time
}

// streamFigures are one index's figures, if known, and the request for
// them in flight.
type streamFigures struct {
	indexStats // known once at is set
	// asking, while a request is in flight, is closed when it ends.
	asking chan struct{}
}

// stats returns def's figures; known is false while its stream has not
// said (the average size is then defaultDocBytes).
func (s *streamStats) stats(ctx context.Context, js jetstream.JetStream, def *meta.IndexDef) (indexStats, bool) {
	s.mu.Lock()
	if s.byUID == nil {
		s.byUID = map[string]*streamFigures{}
	}
	f := s.byUID[def.UID]
	if f == nil {
		s.forget()
		f = &streamFigures{}
		s.byUID[def.UID] = f
	}
	if !f.at.IsZero() && time.Since(f.at) < streamStatsTTL {
		defer s.mu.Unlock()
		return f.indexStats, true
	}
	if f.asking == nil {
		f.asking = make(chan struct{})
		// The request outlives the search that started it, not its
		// own timeout.
		go s.refresh(context.WithoutCancel(ctx), js, def, f)
	}
	asking, held := f.asking, !f.at.IsZero()
	s.mu.Unlock()
	if !held {
		wait := streamStatsTimeout
		if dl, ok := ctx.Deadline(); ok {
			wait = time.Until(dl) / 4
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-asking:
		case <-t.C:
		case <-ctx.Done():
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.at.IsZero() {
		return indexStats{avgBytes: defaultDocBytes}, false
	}
	return f.indexStats, true
}

// forget drops the figures read more than streamStatsForget ago and not
// being asked for (s.mu held): an index deleted, or no longer searched.
func (s *streamStats) forget() {
	for uid, f := range s.byUID {
		if f.asking == nil && time.Since(f.at) > streamStatsForget {
			delete(s.byUID, uid)
		}
	}
}

// refresh asks def's stream for its figures and keeps them in f; a
// stream that does not answer leaves the figures held as they were.
func (s *streamStats) refresh(ctx context.Context, js jetstream.JetStream, def *meta.IndexDef, f *streamFigures) {
	ctx, cancel := context.WithTimeout(ctx, streamStatsTimeout)
	defer cancel()
	st, err := js.Stream(ctx, protocol.StreamName(def.Name))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		state := st.CachedInfo().State
		f.indexStats = indexStats{docs: int64(state.Msgs), avgBytes: defaultDocBytes, at: time.Now()}
		if state.Msgs > 0 {
			f.avgBytes = max(int64(state.Bytes/state.Msgs), 1)
		}
	}
	close(f.asking)
	f.asking = nil
}
