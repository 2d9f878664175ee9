package coordinator

import (
	"slices"
	"sync"

	"github.com/shoal-search/shoal/lru"
	"github.com/shoal-search/shoal/protocol"
)

// termTables is what the coordinator knows of its shards' statistics, so
// that most searches need not ask them (termstats.go):
//
//   - per shard of an index, a generation: the applied stream sequence of
//     the snapshot its figures were read from, its document count, and the
//     newest sequence the shard has been seen at since;
//   - per shard and field, the shard's term table at that generation
//     (every term a live document holds, by 64-bit hash, with its document
//     count);
//   - per field, every shard's table merged, for the generations merged.
//
// Tables are bounded in bytes (lru); a generation is a few words a shard.
type termTables struct {
	tables   *lru.Cache[tableKey, *fieldTable]
	maxBytes int64
	// merging is held while a merged table is built, so that the searches
	// that find it missing at once wait for one build.
	merging sync.Mutex

	mu   sync.Mutex
	gens map[string][]shardGen // by index UID, one per shard
	// tooLarge are the fields (shard -1) whose tables would take more
	// than half of maxBytes: their cardinality is summed over the shards.
	tooLarge map[tableKey]bool
}

// tableKey names a shard's table of a field, or with shard -1 the merged
// table.
type tableKey struct {
	uid   string
	shard int
	field string
}

// merged is the shard number of merged tables.
const merged = -1

// noShard stands, in a merged table's generations, for a shard left out.
const noShard = ^uint64(0)

// fieldTable is one shard's term table of a field at generation seq, or
// the merge of the shards' at generations seqs.
type fieldTable struct {
	seq  uint64
	seqs []uint64
	*protocol.TermTable
}

func (t *fieldTable) size(k tableKey) int64 {
	return int64(12*t.Len()+8*len(t.seqs)+len(k.uid)+len(k.field)) + 128
}

// shardGen is the generation of the figures held for one shard.
type shardGen struct {
	ok   bool // figures are held
	seq  uint64
	docs uint64
	// checked is the newest sequence the shard had been seen at when its
	// figures were read; seen the newest it has been seen at since
	// (search replies, writes waited for). Figures with checked below the
	// newest sequence known are read again.
	checked, seen uint64
}

// maxIndexGens bounds the indexes whose generations are kept; past it,
// they are forgotten (and read again when needed).
const maxIndexGens = 4096

func newTermTables(maxBytes int64) *termTables {
	return &termTables{tables: lru.New[tableKey, *fieldTable](maxBytes), maxBytes: maxBytes,
		gens: map[string][]shardGen{}, tooLarge: map[tableKey]bool{}}
}

// generations returns a copy of the generations of uid's shards.
func (t *termTables) generations(uid string, shards int) []shardGen {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.gensLocked(uid, shards))
}

func (t *termTables) gensLocked(uid string, shards int) []shardGen {
	g := t.gens[uid]
	if len(g) != shards {
		if len(t.gens) >= maxIndexGens {
			clear(t.gens)
		}
		g = make([]shardGen, shards)
		t.gens[uid] = g
	}
	return g
}

// observe records that shard of uid was seen at seq.
func (t *termTables) observe(uid string, shards, shard int, seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g := t.gensLocked(uid, shards); shard < len(g) && seq > g[shard].seen {
		g[shard].seen = seq
	}
}

// isTooLarge reports whether field's tables do not fit.
func (t *termTables) isTooLarge(uid, field string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tooLarge[tableKey{uid, merged, field}]
}

// anyTooLarge reports whether one of fields has tables that do not fit.
func (t *termTables) anyTooLarge(uid string, fields []string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range fields {
		if t.tooLarge[tableKey{uid, merged, f}] {
			return true
		}
	}
	return false
}

// table returns shard's table of field at generation seq, if held.
func (t *termTables) table(uid string, shard int, field string, seq uint64) *protocol.TermTable {
	ft, ok := t.tables.Get(tableKey{uid, shard, field})
	if !ok || ft.seq != seq {
		return nil
	}
	return ft.TermTable
}

// have maps each of fields to the generation at which shard's table of it
// is held, for a presearch's Have.
func (t *termTables) have(uid string, shard int, fields []string) map[string]uint64 {
	out := make(map[string]uint64, len(fields))
	for _, f := range fields {
		if ft, ok := t.tables.Get(tableKey{uid, shard, f}); ok {
			out[f] = ft.seq
		}
	}
	return out
}

// store keeps what shard answered a presearch asking for fields: its
// generation (if not older than the one held) and the tables it sent.
// checked is the newest sequence the shard was known at when asked.
func (t *termTables) store(uid string, shards, shard int, pr *protocol.PresearchResponse, fields []string, checked uint64) error {
	tables := make(map[string]*protocol.TermTable, len(pr.Tables))
	for f, raw := range pr.Tables {
		tt, err := protocol.DecodeTermTable(raw)
		if err != nil {
			return err
		}
		tables[f] = tt
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.gensLocked(uid, shards)
	cur := &g[shard]
	if cur.ok && cur.seq > pr.AppliedSeq {
		return nil // an older snapshot than the figures held
	}
	cur.ok, cur.seq, cur.docs = true, pr.AppliedSeq, pr.Stats.DocCount
	cur.checked = max(cur.checked, checked, pr.AppliedSeq)
	for f, tt := range tables {
		k := tableKey{uid, shard, f}
		ft := &fieldTable{seq: pr.AppliedSeq, TermTable: tt}
		if ft.size(k)*int64(shards) > t.maxBytes/2 {
			t.tooLarge[tableKey{uid, merged, f}] = true
			t.tables.Remove(k)
			continue
		}
		t.tables.Put(k, ft, ft.size(k))
	}
	return nil
}

// vector is the generation of each shard, noShard for the shards left
// out (include false) or without figures.
func vector(gens []shardGen, include func(s int) bool) []uint64 {
	v := make([]uint64, len(gens))
	for s, g := range gens {
		v[s] = noShard
		if g.ok && include(s) {
			v[s] = g.seq
		}
	}
	return v
}

// merge returns the merged table of field over the shards of generations
// vec (noShard: left out), from the memo or from the shards' tables; nil
// if a shard's table is not held.
func (t *termTables) merge(uid, field string, vec []uint64) *protocol.TermTable {
	k := tableKey{uid, merged, field}
	if ft, ok := t.tables.Get(k); ok && slices.Equal(ft.seqs, vec) {
		return ft.TermTable
	}
	t.merging.Lock()
	defer t.merging.Unlock()
	if ft, ok := t.tables.Get(k); ok && slices.Equal(ft.seqs, vec) {
		return ft.TermTable // built meanwhile
	}
	out := &protocol.TermTable{}
	for s, seq := range vec {
		if seq == noShard {
			continue
		}
		tt := t.table(uid, s, field, seq)
		if tt == nil {
			return nil
		}
		out = protocol.MergeTermTables(out, tt)
	}
	ft := &fieldTable{seqs: vec, TermTable: out}
	t.tables.Put(k, ft, ft.size(k))
	return out
}

// mergedAt reports whether field's merged table is held for the
// generations vec.
func (t *termTables) mergedAt(uid, field string, vec []uint64) bool {
	ft, ok := t.tables.Get(tableKey{uid, merged, field})
	return ok && slices.Equal(ft.seqs, vec)
}
