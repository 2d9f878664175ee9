package searcher

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-search/shoal/protocol"
)

// fragmentedShard opens a shard and applies batches of docs each, one
// segment per batch at first (scorch's own merging may join some).
func fragmentedShard(t *testing.T, batches, docs int) *Shard {
	t.Helper()
	sh, err := OpenShard(filepath.Join(t.TempDir(), "shard"), defaultMapping(t), ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Close() })
	seq := uint64(0)
	for b := range batches {
		ws := make([]Write, docs)
		for i := range ws {
			seq++
			doc, _ := json.Marshal(map[string]any{"body": fmt.Sprintf("word%d common text %d batch%d", seq%97, seq, b)})
			ws[i] = Write{Seq: seq, Op: protocol.OpPut, ID: fmt.Sprint("d", seq), Doc: doc}
		}
		if _, err := sh.Apply(t.Context(), ws); err != nil {
			t.Fatal(err)
		}
	}
	return sh
}

// TestCompactMergesIntoOneSegment: a shard of many segments is merged into
// one, and keeps every document.
func TestCompactMergesIntoOneSegment(t *testing.T) {
	sh := fragmentedShard(t, 12, 50)
	if n := sh.Segments(); n <= 1 {
		t.Fatalf("%d segments before compaction, want several", n)
	}
	res, err := sh.Compact(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.After != 1 || sh.Segments() != 1 || res.Interrupted || res.Before <= 1 {
		t.Fatalf("compaction %+v, %d segments now; want several merged into 1", res, sh.Segments())
	}
	if n, err := sh.Docs(); err != nil || n != 600 {
		t.Fatalf("%d documents after compaction (%v), want 600", n, err)
	}
}

// TestCompactStopsForWrites: a write to a shard being compacted stops the
// compaction (writes win), which says so.
func TestCompactStopsForWrites(t *testing.T) {
	// A merge that finishes before the write reaches it proves nothing:
	// try again, on a larger shard each time.
	for attempt := 1; attempt <= 3; attempt++ {
		sh := fragmentedShard(t, 30*attempt, 400)
		done := make(chan Compaction, 1)
		go func() {
			res, err := sh.Compact(t.Context())
			if err != nil {
				t.Error(err)
			}
			done <- res
		}()
		for started := false; !started; {
			sh.mu.Lock()
			started = sh.stopCompact != nil
			sh.mu.Unlock()
			time.Sleep(time.Millisecond)
		}
		sh.tookWrites()
		res := <-done
		if res.Interrupted {
			if res.After <= 1 {
				t.Errorf("interrupted compaction %+v ended with one segment", res)
			}
			return
		}
		if res.After > 1 {
			t.Fatalf("compaction %+v neither finished nor says a write stopped it", res)
		}
		t.Logf("attempt %d: compaction finished in %v, before the write", attempt, res.Took)
	}
	t.Fatal("no compaction was stopped by a write")
}

// TestIdleSince: a shard is idle from its last write.
func TestIdleSince(t *testing.T) {
	sh := fragmentedShard(t, 1, 1)
	now := time.Now()
	if d := sh.Idle(now); d < 0 || d > time.Second {
		t.Fatalf("idle %v right after a write", d)
	}
	if d := sh.Idle(now.Add(time.Minute)); d < time.Minute {
		t.Fatalf("idle %v a minute after a write", d)
	}
}
