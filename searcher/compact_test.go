package searcher

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoal-search/shoal/internal/testwait"
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

// settledShard is a fragmentedShard once scorch's own merging has left it
// alone (several segments: scorch merges small ones at once).
func settledShard(t *testing.T, batches, docs int) *Shard {
	t.Helper()
	sh := fragmentedShard(t, batches, docs)
	if last := testwait.Steady(t, time.Minute, 100*time.Millisecond, 5, sh.Segments); last <= 1 {
		t.Fatalf("%d segments once settled, want several", last)
	}
	return sh
}

// TestCompactMergesIntoOneSegment: a shard of many segments is merged into
// one, and keeps every document.
func TestCompactMergesIntoOneSegment(t *testing.T) {
	sh := settledShard(t, 20, 1000)
	if !sh.worthCompacting() {
		t.Fatal("a shard of several settled segments is not worth compacting")
	}
	res, err := sh.Compact(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.After != 1 || sh.Segments() != 1 || res.Interrupted || res.Before <= 1 {
		t.Fatalf("compaction %+v, %d segments now; want several merged into 1", res, sh.Segments())
	}
	if n, err := sh.Docs(); err != nil || n != 20000 {
		t.Fatalf("%d documents after compaction (%v), want 20000", n, err)
	}
	// A few stray writes after it are left to scorch.
	doc, _ := json.Marshal(map[string]any{"body": "stray"})
	if _, err := sh.Apply(t.Context(), []Write{{Seq: 20001, Op: protocol.OpPut, ID: "stray", Doc: doc}}); err != nil {
		t.Fatal(err)
	}
	if sh.Segments() < 2 || sh.worthCompacting() {
		t.Fatalf("%d segments after a stray write; worth compacting: %v, want 2 and false", sh.Segments(), sh.worthCompacting())
	}
}

// TestCompactStopsForWrites: a write to a shard being compacted stops the
// compaction (writes win), which says so.
func TestCompactStopsForWrites(t *testing.T) {
	// A merge that finishes before the write reaches it proves nothing:
	// try again, on a larger shard each time.
	for attempt := 1; attempt <= 3; attempt++ {
		sh := settledShard(t, 20*attempt, 1000)
		done := make(chan Compaction, 1)
		go func() {
			res, err := sh.Compact(t.Context())
			if err != nil {
				t.Error(err)
			}
			done <- res
		}()
		var res Compaction
		for waiting := true; waiting; {
			select {
			case res = <-done:
				waiting = false
			default:
				if sh.stopCompact.Load() == nil {
					time.Sleep(time.Millisecond)
					continue
				}
				doc, _ := json.Marshal(map[string]any{"body": "late"})
				if _, err := sh.Apply(t.Context(), []Write{{Seq: uint64(20000*attempt + 1), Op: protocol.OpPut, ID: "late", Doc: doc}}); err != nil {
					t.Fatal(err)
				}
				res, waiting = <-done, false
			}
		}
		if res.Interrupted {
			if res.After <= 1 {
				t.Errorf("interrupted compaction %+v ended with one segment", res)
			}
			return
		}
		t.Logf("attempt %d: compaction %+v finished before the write", attempt, res)
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

// TestMergeIntoOne: a settled index of several segments ends in one, every
// document kept.
func TestMergeIntoOne(t *testing.T) {
	sh := settledShard(t, 12, 1000)
	if err := MergeIntoOne(t.Context(), sh.idx, 20); err != nil {
		t.Fatal(err)
	}
	if n := Segments(sh.idx); n != 1 {
		t.Fatalf("%d segments, want 1", n)
	}
	if n, err := sh.Docs(); err != nil || n != 12000 {
		t.Fatalf("%d documents (%v), want 12000", n, err)
	}
}
