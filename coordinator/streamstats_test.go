package coordinator

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/internal/testbroker"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// TestStreamStatsSilentStream: a search never spends its time waiting for
// its index's stream to say how many documents it holds. A stream whose
// leader's broker was killed does not answer at all until a new leader is
// elected, seconds later; when the memory estimate waited for it, every
// search made once the figures were 5 s old spent its whole timeout there
// and then failed on every shard (make compose-test, killing the broker
// that led the stream). Figures held, however old, are used at once while
// one request, in the background, brings them up to date; a search with
// no figures waits for them at most a quarter of its time.
func TestStreamStatsSilentStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := testbroker.Closed(ctx, t)
	admin := connect(broker.RoleAdmin, "")
	js, err := jetstream.New(admin)
	if err != nil {
		t.Fatal(err)
	}
	def := &meta.IndexDef{Name: "figures", UID: "u1"}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: protocol.StreamName(def.Name), Subjects: []string{protocol.IngestStreamSubjects(def.Name, def.UID)}}); err != nil {
		t.Fatal(err)
	}
	const docs, size = 5, 200
	for i := range docs {
		if _, err := js.Publish(ctx, protocol.IngestSubject(def.Name, def.UID, 0, fmt.Sprint(i)), make([]byte, size)); err != nil {
			t.Fatal(err)
		}
	}
	const timeout = 2 * time.Second
	tests := []struct {
		name  string
		held  bool // figures read before, now older than streamStatsTTL
		known bool
		most  time.Duration // the longest the search may wait
	}{
		{name: "old figures held", held: true, known: true, most: 100 * time.Millisecond},
		{name: "no figures yet", held: false, known: false, most: timeout/4 + 200*time.Millisecond},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			silent, asked := silentJetStream(t, admin, fmt.Sprintf("silent%d", i))
			s := &streamStats{}
			if tt.held {
				if st, known := s.stats(ctx, js, def); !known || st.docs != docs {
					t.Fatalf("figures from a stream that answers: %+v, known %v; want %d documents", st, known, docs)
				}
				s.mu.Lock()
				s.byUID[def.UID].at = time.Now().Add(-2 * streamStatsTTL)
				s.mu.Unlock()
			}
			// Two workers searching at once, a few searches each.
			var wg sync.WaitGroup
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 3 {
						sctx, scancel := context.WithTimeout(ctx, timeout)
						start := time.Now()
						st, known := s.stats(sctx, silent, def)
						took := time.Since(start)
						scancel()
						if took > tt.most || known != tt.known || (known && st.docs != docs) {
							t.Errorf("a search with a %v timeout waited %v for figures %+v, known %v; want at most %v, known %v",
								timeout, took, st, known, tt.most, tt.known)
						}
					}
				}()
			}
			wg.Wait()
			testwait.For(t, 5*time.Second, 10*time.Millisecond, func() error {
				if n := asked.Load(); n != 1 {
					return fmt.Errorf("the silent stream was asked %d times, want once (one request at a time)", n)
				}
				return nil
			})
		})
	}
}

// silentJetStream is a JetStream whose API requests reach a subscriber
// that never answers, as a stream without a leader does, and the count of
// requests it got.
func silentJetStream(t *testing.T, nc *nats.Conn, prefix string) (jetstream.JetStream, *atomic.Int32) {
	t.Helper()
	var asked atomic.Int32
	sub, err := nc.Subscribe(prefix+".API.>", func(*nats.Msg) { asked.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.NewWithAPIPrefix(nc, prefix+".API")
	if err != nil {
		t.Fatal(err)
	}
	return js, &asked
}

// TestStreamStatsForget: figures nobody asked for lately are dropped
// (those of a deleted index, say), unless a request for them is in flight.
func TestStreamStatsForget(t *testing.T) {
	old := time.Now().Add(-2 * streamStatsForget)
	tests := []struct {
		name string
		f    *streamFigures
		kept bool
	}{
		{"recent", &streamFigures{indexStats: indexStats{at: time.Now()}}, true},
		{"old", &streamFigures{indexStats: indexStats{at: old}}, false},
		{"never read", &streamFigures{}, false},
		{"old, asked for", &streamFigures{indexStats: indexStats{at: old}, asking: make(chan struct{})}, true},
	}
	s := &streamStats{byUID: map[string]*streamFigures{}}
	for _, tt := range tests {
		s.byUID[tt.name] = tt.f
	}
	s.forget()
	for _, tt := range tests {
		if _, ok := s.byUID[tt.name]; ok != tt.kept {
			t.Errorf("%s: kept %v, want %v", tt.name, ok, tt.kept)
		}
	}
}
