package searcher

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/blevesearch/bleve/v2/index/scorch"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	lev "github.com/blevesearch/vellum/levenshtein"

	"github.com/shoal-search/shoal/lru"
)

// Fuzzy terms expand against each shard's term dictionary through a
// Levenshtein automaton, which Bleve's scorch builds anew for every
// search of every shard. Building it allocates some 50 KB (a 1 KB row of
// transitions per state), and a fuzzy query builds it on every shard
// twice, for its presearch and its search. A node keeps the automata it
// built recently, shared by all its shards: an automaton depends only on
// the term and the edit distance, and is only read once built.

// levBuilders are the automaton builders of edit distances 1 and 2, as
// scorch makes them (transpositions count as one edit). Building them is
// costly, so it is done once; they are only read afterwards.
var levBuilders = sync.OnceValues(func() ([2]*lev.LevenshteinAutomatonBuilder, error) {
	var b [2]*lev.LevenshteinAutomatonBuilder
	for i := range b {
		var err error
		if b[i], err = lev.NewLevenshteinAutomatonBuilder(uint8(i+1), true); err != nil {
			return b, fmt.Errorf("levenshtein builder, distance %d: %w", i+1, err)
		}
	}
	return b, nil
})

// automatonSize is what one cached automaton is counted as.
const automatonSize = 64 << 10

// DefaultAutomataBytes bounds a node's cache of fuzzy automata.
const DefaultAutomataBytes = 4 << 20

// automata caches Levenshtein automata by edit distance and term.
type automata struct {
	entries *lru.Cache[string, *lev.DFA]
}

func newAutomata(maxBytes int64) *automata {
	return &automata{entries: lru.New[string, *lev.DFA](maxBytes)}
}

// get returns the automaton matching the terms within fuzziness edits of
// term, built once.
func (a *automata) get(term string, fuzziness int) (*lev.DFA, error) {
	if fuzziness < 1 || fuzziness > 2 {
		return nil, fmt.Errorf("fuzziness %d exceeds the max limit", fuzziness)
	}
	key := strconv.Itoa(fuzziness) + term
	if a != nil {
		if d, ok := a.entries.Get(key); ok {
			return d, nil
		}
	}
	b, err := levBuilders()
	if err != nil {
		return nil, err
	}
	d, err := b[fuzziness-1].BuildDfa(term, uint8(fuzziness))
	if err != nil {
		return nil, err
	}
	if a != nil {
		a.entries.Put(key, d, automatonSize+int64(len(key)))
	}
	return d, nil
}

// FieldDictFuzzyAutomaton lists the terms of field within fuzziness edits
// of term and starting with prefix, with their edit distance, as scorch
// does, but with the node's cached automaton, and read back when the
// snapshot was walked for them already (expansions.go).
func (r *statsReader) FieldDictFuzzyAutomaton(field, term string, fuzziness int, prefix string) (index.FieldDict, index.FuzzyAutomaton, error) {
	a, err := r.automata.get(term, fuzziness)
	if err != nil {
		return nil, nil, err
	}
	key := expansionKey(field, term, fuzziness, prefix)
	if entries, ok := r.expanded.get(r.IndexSnapshot, key); ok {
		return &termList{entries: entries}, a, nil
	}
	var beg, end []byte
	if prefix != "" {
		beg = []byte(prefix)
		end = exclusiveEnd(beg)
	}
	fd, err := automatonDict(r.IndexSnapshot, field, a, beg, end)
	if err != nil {
		return nil, nil, err
	}
	r.expanded.put(r.IndexSnapshot, key, fd.entries)
	return fd, a, nil
}

// FieldDictFuzzy is FieldDictFuzzyAutomaton without the automaton.
func (r *statsReader) FieldDictFuzzy(field, term string, fuzziness int, prefix string) (index.FieldDict, error) {
	fd, _, err := r.FieldDictFuzzyAutomaton(field, term, fuzziness, prefix)
	return fd, err
}

// exclusiveEnd is the first key after every key starting with prefix (nil:
// none), as scorch computes it.
func exclusiveEnd(prefix []byte) []byte {
	end := slices.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end
		}
	}
	return nil
}

// automatonDict runs a over field's dictionary in every segment of snap
// and returns the terms it accepts, each once and in order, with their
// edit distance (no counts: fuzzy expansion does not read them).
func automatonDict(snap *scorch.IndexSnapshot, field string, a segment.Automaton, beg, end []byte) (*termList, error) {
	dist := map[string]uint8{}
	for _, ss := range snap.Segments() {
		dict, err := ss.Segment().Dictionary(field)
		if err != nil {
			return nil, err
		}
		if dict == nil {
			continue
		}
		var it segment.DictionaryIterator
		if oc, ok := dict.(omitCountDict); ok {
			it = oc.AutomatonIteratorOmitCount(a, beg, end)
		} else {
			it = dict.AutomatonIterator(a, beg, end)
		}
		for {
			e, err := it.Next()
			if err != nil {
				return nil, err
			}
			if e == nil {
				break
			}
			if _, ok := dist[e.Term]; !ok {
				dist[e.Term] = e.EditDistance
			}
		}
	}
	l := &termList{entries: make([]index.DictEntry, 0, len(dist))}
	for t, d := range dist {
		l.entries = append(l.entries, index.DictEntry{Term: t, EditDistance: d})
	}
	slices.SortFunc(l.entries, func(x, y index.DictEntry) int { return strings.Compare(x.Term, y.Term) })
	return l, nil
}

// omitCountDict is a term dictionary that can skip reading counts.
type omitCountDict interface {
	AutomatonIteratorOmitCount(a segment.Automaton, beg, end []byte) segment.DictionaryIterator
}

// termList is a field dictionary read in advance.
type termList struct {
	entries []index.DictEntry
	next    int
}

// Next returns the next entry, nil after the last.
func (l *termList) Next() (*index.DictEntry, error) {
	if l.next >= len(l.entries) {
		return nil, nil
	}
	l.next++
	return &l.entries[l.next-1], nil
}

// Close implements index.FieldDict.
func (l *termList) Close() error { return nil }

// Cardinality implements index.FieldDict: the number of terms listed.
func (l *termList) Cardinality() int { return len(l.entries) }

// BytesRead implements index.FieldDict.
func (l *termList) BytesRead() uint64 { return 0 }
