// Package lru is a cache bounded in bytes: when the sizes its callers give
// their entries add up past the bound, the least recently used entries
// leave. Shoal's caches of statistics and term tables use it, so that no
// stream of queries can grow a process past the bound it was given.
// NewCollector reports their state to Prometheus.
package lru

import (
	"container/list"
	"sync"
)

// Cache maps keys to values of a stated size, at most MaxBytes in all. It
// is safe for concurrent use.
type Cache[K comparable, V any] struct {
	max int64

	mu        sync.Mutex
	bytes     int64
	order     *list.List // front: most recently used
	entries   map[K]*list.Element
	evictions uint64
}

type entry[K comparable, V any] struct {
	key  K
	val  V
	size int64
}

// New returns a cache of at most maxBytes (at least 1).
func New[K comparable, V any](maxBytes int64) *Cache[K, V] {
	return &Cache[K, V]{max: max(maxBytes, 1), order: list.New(), entries: map[K]*list.Element{}}
}

// Get returns key's value and marks it used.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry[K, V]).val, true
}

// Put stores key's value, of size bytes, evicting the least recently used
// entries as needed. A value larger than the whole cache is not stored
// (and an older value under key is dropped).
func (c *Cache[K, V]) Put(key K, val V, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	if size > c.max {
		return
	}
	c.entries[key] = c.order.PushFront(&entry[K, V]{key: key, val: val, size: size})
	c.bytes += size
	for c.bytes > c.max {
		c.remove(c.order.Back())
		c.evictions++
	}
}

// Remove drops key's entry, if any.
func (c *Cache[K, V]) Remove(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
}

// RemoveIf drops every entry for which drop returns true.
func (c *Cache[K, V]) RemoveIf(drop func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*entry[K, V]); drop(e.key, e.val) {
			c.remove(el)
		}
		el = next
	}
}

// Range calls f for every entry, most recently used first, without
// marking them used, until f returns false. f must not call the cache.
func (c *Cache[K, V]) Range(f func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.order.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*entry[K, V]); !f(e.key, e.val) {
			return
		}
	}
}

func (c *Cache[K, V]) remove(el *list.Element) {
	e := c.order.Remove(el).(*entry[K, V])
	delete(c.entries, e.key)
	c.bytes -= e.size
}

// Stats is a cache's state, for metrics.
type Stats struct {
	Entries   int
	Bytes     int64
	MaxBytes  int64
	Evictions uint64
}

// Stats returns the cache's state.
func (c *Cache[K, V]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Entries: len(c.entries), Bytes: c.bytes, MaxBytes: c.max, Evictions: c.evictions}
}
