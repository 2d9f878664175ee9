package searcher

import (
	"context"
	"errors"
	"fmt"
	"time"

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
//     compaction that took d, the same copy is not compacted again before
//     9·d has passed, so a trickle of writes to a large shard cannot keep
//     the node merging.
//   - It changes no answer: scores come from the global statistics
//     (document counts, term counts, the union of term tables), which
//     do not depend on segments, and what one merged index would report is
//     what those already are.
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
// a compaction that took d, the copy waits d·(1/compactDuty − 1).
const compactDuty = 0.1

// compactor is the node's compaction loop state.
type compactor struct {
	after time.Duration
	// next is when each copy may be compacted again (compactDuty).
	next map[*Shard]time.Time
}

// compactLoop compacts idle copies until the node closes.
func (n *Node) compactLoop() {
	defer n.wg.Done()
	c := compactor{after: n.opts.CompactAfter, next: map[*Shard]time.Time{}}
	t := time.NewTicker(min(max(c.after/4, 100*time.Millisecond), 5*time.Second))
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.compactIdle(&c)
		}
	}
}

// compactIdle compacts, one after the other, the copies that have been idle
// long enough and have more than one segment.
func (n *Node) compactIdle(c *compactor) {
	n.mu.Lock()
	copies := make([]*replica, 0, len(n.copies))
	for _, r := range n.copies {
		copies = append(copies, r)
	}
	n.mu.Unlock()
	live := make(map[*Shard]bool, len(copies))
	for _, r := range copies {
		s := r.shard
		live[s] = true
		now := time.Now()
		if n.ctx.Err() != nil || now.Before(c.next[s]) || s.Idle(now) < c.after || s.Segments() <= 1 {
			continue
		}
		res, err := s.Compact(n.ctx)
		if n.ctx.Err() != nil {
			return
		}
		c.next[s] = time.Now().Add(time.Duration(float64(res.Took) * (1/compactDuty - 1)))
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
	}
	for s := range c.next {
		if !live[s] {
			delete(c.next, s)
		}
	}
}

// errWritesArrived is why a compaction stops when the shard takes writes.
var errWritesArrived = errors.New("writes arrived")

// Compaction is what one Compact did.
type Compaction struct {
	Before, After uint64 // segments
	Took          time.Duration
	// Interrupted says a write arrived and stopped it.
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
	adv, err := s.idx.Advanced()
	if err != nil {
		return res, fmt.Errorf("shard %s: compact: %w", s.dir, err)
	}
	var sc *scorch.Scorch
	switch x := adv.(type) {
	case *statsIndex:
		sc = x.Scorch
	case *scorch.Scorch:
		sc = x
	default:
		return res, fmt.Errorf("shard %s: compact: index type %T is not scorch", s.dir, adv)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.mu.Lock()
	s.stopCompact = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stopCompact = nil
		s.mu.Unlock()
	}()
	segs := res.Before
	for range maxCompactRounds {
		if segs <= 1 || ctx.Err() != nil {
			break
		}
		if err = sc.ForceMerge(ctx, nil); err != nil {
			err = fmt.Errorf("shard %s: compact: %w", s.dir, err)
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
	res.Interrupted = errors.Is(context.Cause(ctx), errWritesArrived)
	return res, err
}

// Segments counts the segments of each copy the node hosts, by index and
// shard.
func (n *Node) Segments() map[string]map[int]uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]map[int]uint64{}
	for k, r := range n.copies {
		if out[k.index] == nil {
			out[k.index] = map[int]uint64{}
		}
		out[k.index][k.shard] = r.shard.Segments()
	}
	return out
}
