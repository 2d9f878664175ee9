package searcher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shoal-search/shoal/fanout"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
)

// retryReconcile is how often a node tries again to open the copies it
// failed to open.
const retryReconcile = time.Second

// placementLoop follows the placement bucket and opens or drops copies.
func (n *Node) placementLoop(w jetstream.KeyWatcher) {
	defer n.wg.Done()
	defer w.Stop()
	maps := map[string]*meta.ShardMap{}
	// Indexes whose copies could not all be opened (the broker away, a
	// disk error): tried again every retryReconcile, and their data is
	// never taken for stale meanwhile.
	failed := map[string]bool{}
	apply := func(index string) {
		if err := n.reconcile(index, maps[index]); err != nil {
			if !failed[index] {
				n.log.Error("shard copies", "index", index, "err", err)
			}
			failed[index] = true
			return
		}
		delete(failed, index)
	}
	retry := time.NewTicker(retryReconcile)
	defer retry.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-retry.C:
			for index := range failed {
				apply(index)
			}
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil { // initial values delivered
				n.removeStale(failed)
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				delete(maps, e.Key())
				apply(e.Key())
				continue
			}
			m, err := meta.DecodeShardMap(e.Value())
			if err != nil {
				n.log.Error("bad shard map", "index", e.Key(), "err", err)
				continue
			}
			maps[e.Key()] = m
			apply(e.Key())
		}
	}
}

// reconcile makes the copies this node hosts for index match m. It fails
// if it could not learn the index's definition or open a copy; what it
// could do is done.
func (n *Node) reconcile(index string, m *meta.ShardMap) error {
	want := map[int]bool{}
	if m != nil {
		for s := range m.Copies {
			if m.Holds(n.opts.Name, s) {
				want[s] = true
			}
		}
	}
	var def *meta.IndexDef
	if len(want) > 0 {
		var err error
		if def, err = n.indexDef(index); err != nil {
			return err
		}
	}
	n.dropCopies(index, want, def)
	var errs []error
	for s := range want {
		n.mu.Lock()
		_, have := n.copies[copyKey{index, s}]
		dropping := n.dropping[n.copyDir(def, s)]
		n.mu.Unlock()
		if have {
			continue
		}
		if dropping {
			// The same copy is still being closed and deleted (moved
			// off and back): opening its directory now would lose it
			// under the new copy. The failed reconcile is retried.
			errs = append(errs, fmt.Errorf("copy of shard %d is still being removed", s))
			continue
		}
		r, err := n.openCopy(def, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("open copy of shard %d: %w", s, err))
			continue
		}
		n.mu.Lock()
		n.copies[copyKey{index, s}] = r
		n.mu.Unlock()
	}
	return errors.Join(errs...)
}

// indexDef reads index's definition from the metadata.
func (n *Node) indexDef(index string) (*meta.IndexDef, error) {
	ctx, cancel := context.WithTimeout(n.ctx, apiTimeout)
	e, err := n.buckets.Indexes.Get(ctx, index)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("index definition: %w", err)
	}
	return meta.DecodeIndexDef(e.Value())
}

// dropCopies closes and deletes the node's copies of index that are not
// in want, or that belong to another incarnation than def's.
func (n *Node) dropCopies(index string, want map[int]bool, def *meta.IndexDef) {
	n.mu.Lock()
	var drop []*replica
	for k, r := range n.copies {
		if k.index != index {
			continue
		}
		if !want[k.shard] || (def != nil && r.def.UID != def.UID) {
			drop = append(drop, r)
			delete(n.copies, k)
		}
	}
	for _, r := range drop {
		n.dropping[r.dir] = true
	}
	n.mu.Unlock()
	if len(drop) == 0 {
		return
	}
	// The copies stop answering at once; closing their indexes and
	// deleting their data goes on in the background, several at a time,
	// so that deleting a large index never holds up the placement of the
	// others.
	for _, r := range drop {
		r.stopServing()
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fanout.Run(context.Background(), drop, fanout.Options{Limit: dropConcurrency}, func(_ context.Context, r *replica) (struct{}, error) {
			n.removeCopy(r)
			return struct{}{}, nil
		})
	}()
}

// dropConcurrency is how many copies a node closes and deletes at once.
const dropConcurrency = 32

// removeCopy closes a dropped copy and deletes its data.
func (n *Node) removeCopy(r *replica) {
	if err := r.stop(); err != nil {
		n.log.Warn("close copy", "index", r.def.Name, "shard", r.num, "err", err)
	}
	if err := os.RemoveAll(r.dir); err != nil {
		n.log.Warn("remove copy", "dir", r.dir, "err", err)
	}
	_ = os.Remove(filepath.Dir(r.dir)) // the index's directory, once empty
	n.mu.Lock()
	delete(n.dropping, r.dir)
	n.mu.Unlock()
}

// removeStale deletes shard directories no placement refers to any more
// (an index deleted while this node was down). The data of indexes in
// failed, whose copies could not be opened yet, stays.
func (n *Node) removeStale(failed map[string]bool) {
	entries, err := os.ReadDir(n.opts.DataDir)
	if err != nil {
		return
	}
	n.mu.Lock()
	keep := map[string]bool{}
	for _, r := range n.copies {
		keep[filepath.Dir(r.dir)] = true
	}
	for dir := range n.dropping { // removeCopy deletes these itself
		keep[filepath.Dir(dir)] = true
	}
	n.mu.Unlock()
	for _, e := range entries {
		p := filepath.Join(n.opts.DataDir, e.Name())
		name := e.Name()
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[:i] // <index>.<uid>
		}
		if !e.IsDir() || keep[p] || failed[name] {
			continue
		}
		n.log.Info("removing data of an index no longer placed here", "dir", p)
		os.RemoveAll(p)
	}
}

func (n *Node) copyDir(def *meta.IndexDef, shard int) string {
	return filepath.Join(n.opts.DataDir, def.Name+"."+def.UID, strconv.Itoa(shard))
}

// openCopy opens the node's copy of def's shard and starts its consumer.
func (n *Node) openCopy(def *meta.IndexDef, shard int) (*replica, error) {
	m, err := meta.BuildMapping(def.Mapping)
	if err != nil {
		return nil, err
	}
	dir := n.copyDir(def, shard)
	sh, err := OpenShard(dir, m, ShardOptions{TermSetBytes: n.opts.TermSetBytes, Automata: n.automata})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(n.ctx)
	r := &replica{node: n, def: *def, num: shard, prefix: protocol.IngestShardPrefix(def.Name, def.UID, shard), dir: dir, shard: sh, cancel: cancel, done: make(chan struct{})}
	n.metrics.applyFailed(def.Name, 0) // the index's counter exists from the start
	go r.run(ctx)
	return r, nil
}
