package lru

import (
	"github.com/prometheus/client_golang/prometheus"
)

// collector reports the Stats of named caches as Prometheus metrics at
// scrape time.
type collector struct {
	stats                          func() map[string]Stats
	entries, bytes, max, evictions *prometheus.Desc
}

// NewCollector returns a Prometheus collector of the caches stats names
// (the label cache): prefix_cache_entries, prefix_cache_bytes,
// prefix_cache_max_bytes and prefix_cache_evictions_total.
func NewCollector(prefix string, stats func() map[string]Stats) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prefix+"_cache_"+name, help, []string{"cache"}, nil)
	}
	return &collector{
		stats:     stats,
		entries:   d("entries", "Entries in a cache."),
		bytes:     d("bytes", "Bytes a cache holds, as its entries are sized."),
		max:       d("max_bytes", "The most bytes a cache may hold."),
		evictions: d("evictions_total", "Entries evicted from a cache to stay within its bytes."),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.bytes
	ch <- c.max
	ch <- c.evictions
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.stats() {
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(s.Entries), name)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(s.Bytes), name)
		ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.MaxBytes), name)
		ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(s.Evictions), name)
	}
}
