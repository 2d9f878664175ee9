package searcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
)

// Compaction merges a shard copy that has stopped taking writes into one
// segment.
//
// Scorch's own merging keeps a steady index at a handful of segments (5 for
// a shard of 16,000 gcide entries), and every query pays for each of them:
// a term is looked up in every segment's dictionary, a fuzzy term walks
// every one, and each gets a postings iterator. A copy that has taken no
// writes for Options.CompactAfter (a bulk load done, an index that is only
// read) is worth merging down, as Elasticsearch users force-merge
// read-only indexes; the node does it by itself, one copy at a time:
//   - Writes win: a write to the copy stops its compaction (scorch drops
//     the merge), and the copy waits to be idle again.
//   - Compaction takes at most a tenth of one core's time: after a
//     compaction that took d, the node compacts nothing for 9·d. A copy
//     whose largest segment holds 90 % of its documents is left to scorch
//     (a few stray writes are not worth rewriting the shard), and a copy
//     compacted is not looked at again until it takes writes.
//   - Scores do not change where the global statistics cover the query's
//     fields (document counts, term counts, the union of term tables):
//     none of those depends on segments. A field whose term tables are
//     over their bound falls back to scorch's own field cardinality, which
//     a merge changes (as scorch's own merging does).
//
// A write acknowledged before or during a compaction is safe: the merge
// is scorch's own online operation, which swaps segments only once the
// merged one is on disk.

// DefaultCompactAfter is how long a copy takes no writes before it is
// merged into one segment.
const DefaultCompactAfter = 10 * time.Second

// maxCompactRounds bounds the force merges of one compaction: scorch merges
// at most ten segments in one task.
const maxCompactRounds = 8

// compactDuty is the share of one core's time compaction may take: after
// a compaction that took d, the node compacts nothing for
// d·(1/compactDuty − 1).
const compactDuty = 0.1

// compactSkew is the share of a copy's live documents its largest segment
// must hold for compaction to be left to scorch: merging a few stray
// writes into a large segment would rewrite the whole shard for them.
const compactSkew = 0.9

// compactor is the node's compaction loop state.
type compactor struct {
	after time.Duration
	// next is when the node may compact again (compactDuty).
	next time.Time
	// done holds, for each copy compacted or found not worth it, its
	// last write then: it is not looked at again until it takes writes.
	done map[*Shard]int64
}

// compactLoop compacts idle copies until the node closes.
func (n *Node) compactLoop() {
	c := compactor{after: n.opts.CompactAfter, done: map[*Shard]int64{}}
	n.every(min(max(c.after/4, 100*time.Millisecond), 5*time.Second), func() { n.compactIdle(&c) })
}

// compactIdle compacts the first copy that has been idle long enough and
// is worth it, unless the node compacted too lately.
func (n *Node) compactIdle(c *compactor) {
	n.mu.Lock()
	copies := make([]*replica, 0, len(n.copies))
	live := make(map[*Shard]bool, len(n.copies))
	for _, r := range n.copies {
		copies = append(copies, r)
		live[r.shard] = true
	}
	n.mu.Unlock()
	for s := range c.done {
		if !live[s] {
			delete(c.done, s)
		}
	}
	now := time.Now()
	if now.Before(c.next) {
		return
	}
	for _, r := range copies {
		s := r.shard
		wrote := s.wrote.Load()
		if w, ok := c.done[s]; (ok && w == wrote) || s.Idle(now) < c.after {
			continue
		}
		if !s.worthCompacting() {
			c.done[s] = wrote
			continue
		}
		res, err := s.Compact(n.ctx)
		if n.ctx.Err() != nil || res.After == 0 { // closing, or the copy was dropped
			return
		}
		c.next = time.Now().Add(time.Duration(float64(res.Took) * (1/compactDuty - 1)))
		if !res.Interrupted {
			c.done[s] = wrote
		}
		n.metrics.compacted(r.def.Name, res.Took.Seconds())
		log := n.log.With("index", r.def.Name, "shard", r.num, "segments_before", res.Before,
			"segments_after", res.After, "took", res.Took.Round(time.Millisecond))
		switch {
		case err != nil:
			log.Warn("shard copy compaction failed", "err", err)
		case res.Interrupted:
			log.Debug("shard copy compaction stopped by a write")
		default:
			log.Info("shard copy compacted")
		}
		return
	}
}

// worthCompacting says whether the shard has several segments and its
// largest does not hold nearly all its documents (compactSkew).
func (s *Shard) worthCompacting() bool {
	n, largest, docs := segmentSizes(s.idx)
	return n > 1 && float64(largest) < compactSkew*float64(docs)
}

// errWritesArrived is why a compaction stops when the shard takes writes.
var errWritesArrived = errors.New("writes arrived")

// Compaction is what one Compact did.
type Compaction struct {
	Before, After uint64 // segments
	Took          time.Duration
	// Interrupted says a write arrived and stopped it before it was
	// done.
	Interrupted bool
}

// Idle is how long the shard has taken no writes at now (since it was
// opened, when it has taken none).
func (s *Shard) Idle(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, s.wrote.Load()))
}

// Compact merges the shard into one segment, unless ctx ends or a write
// arrives first (Interrupted). Searches and writes go on meanwhile.
func (s *Shard) Compact(ctx context.Context) (Compaction, error) {
	start := time.Now()
	res := Compaction{Before: s.Segments()}
	sc, err := scorchOf(s.idx)
	if err != nil {
		return res, fmt.Errorf("shard %s: compact: %w", s.dir, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.stopCompact.Store(&cancel)
	defer s.stopCompact.Store(nil)
	segs := res.Before
	for range maxCompactRounds {
		if segs <= 1 || ctx.Err() != nil {
			break
		}
		if err = s.forceMerge(ctx, sc); err != nil {
			break
		}
		now := s.Segments()
		if now >= segs { // no progress: closed, or stopped
			segs = now
			break
		}
		segs = now
	}
	res.After, res.Took = segs, time.Since(start)
	res.Interrupted = segs > 1 && errors.Is(context.Cause(ctx), errWritesArrived)
	return res, err
}

// scorchOf is the scorch index under idx (a shard's or a plain one).
func scorchOf(idx bleve.Index) (*scorch.Scorch, error) {
	adv, err := idx.Advanced()
	if err != nil {
		return nil, err
	}
	switch x := adv.(type) {
	case *statsIndex:
		return x.Scorch, nil
	case *scorch.Scorch:
		return x, nil
	}
	return nil, fmt.Errorf("index type %T is not scorch", adv)
}

// MergeIntoOne force-merges a scorch index until it is one segment, at
// most rounds times (scorch merges at most ten segments in a task), and
// fails if it is still several: what a reference index that must score as
// one merged index needs. Writes must have stopped.
func MergeIntoOne(ctx context.Context, idx bleve.Index, rounds int) error {
	sc, err := scorchOf(idx)
	if err != nil {
		return fmt.Errorf("merge into one segment: %w", err)
	}
	for range rounds {
		if Segments(idx) <= 1 {
			return nil
		}
		if err := sc.ForceMerge(ctx, nil); err != nil {
			return fmt.Errorf("merge into one segment: %w", err)
		}
	}
	if n := Segments(idx); n > 1 {
		return fmt.Errorf("merge into one segment: still %d segments after %d force merges", n, rounds)
	}
	return nil
}

// forceMerge asks scorch for one force merge and waits for it, or for ctx.
// Scorch's ForceMerge waits for its merger without regard to ctx (behind
// a merge of its own, say); the call is left to finish on its own then,
// and the shard takes no other until it has.
func (s *Shard) forceMerge(ctx context.Context, sc *scorch.Scorch) error {
	if !s.merging.CompareAndSwap(false, true) {
		return fmt.Errorf("shard %s: compact: a force merge is still running", s.dir)
	}
	done := make(chan error, 1)
	go func() {
		defer s.merging.Store(false)
		done <- sc.ForceMerge(ctx, nil)
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("shard %s: compact: %w", s.dir, err)
		}
		return nil
	case <-ctx.Done():
		return nil
	}
}

// Segments counts the segments of each copy the node hosts, by index and
// shard.
func (n *Node) Segments() map[string]map[int]uint64 {
	n.mu.Lock()
	copies := make(map[copyKey]*Shard, len(n.copies))
	for k, r := range n.copies {
		copies[k] = r.shard
	}
	n.mu.Unlock()
	out := map[string]map[int]uint64{}
	for k, s := range copies {
		if out[k.index] == nil {
			out[k.index] = map[int]uint64{}
		}
		out[k.index][k.shard] = s.Segments()
	}
	return out
}
