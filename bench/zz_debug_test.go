package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"
)

// go test -run TestDebugCost ./bench -v   (BENCH_DOCS, BENCH_CORPUS)
func TestDebugCost(t *testing.T) {
	runtime.MemProfileRate = 16 << 10
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	n, _ := strconv.Atoi(os.Getenv("BENCH_DOCS"))
	docs, _ := loadDocs(os.Getenv("BENCH_CORPUS"), n)
	qs := deriveQueries(docs, 200)
	raw, _ := mappingJSON(os.Getenv("BENCH_CORPUS") == "")
	alias, _, _, err := shardedBleve(filepath.Join(dir, "a"), raw, docs, 8, 1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{}
	o.setDefaults()
	sh, err := startShoal(ctx, filepath.Join(dir, "s"), 4, o.Logger)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.close()
	if err := sh.createIndex(ctx, 8, 1, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := sh.load(ctx, ndjsonBatches(docs, 1000), 4, len(docs)); err != nil {
		t.Fatal(err)
	}
	waitIdle(ctx, 30*time.Second)
	d := 3 * time.Second
	for _, e := range []struct {
		name string
		fn   searchFunc
		c    int
	}{
		{"alias_1c", bleveSearch(alias, true), 1},
		{"shoal_1c", coordSearch(sh.c.Frontend.Coordinator), 1},
	
	} {
		warm(ctx, qs, 200, e.fn)
		var p Phase
		if e.name == "shoal_1c" && os.Getenv("BENCH_PROF") != "" {
			runtime.GC()
			f, _ := os.Create(os.Getenv("BENCH_PROF") + "-heap0.pprof")
			pprof.WriteHeapProfile(f)
			f.Close()
			defer func() {
				f, _ := os.Create(os.Getenv("BENCH_PROF") + "-heap1.pprof")
				pprof.WriteHeapProfile(f)
				f.Close()
			}()
		}
		profile(os.Getenv("BENCH_PROF"), e.name, func() error { p = runPhase(ctx, e.name, e.c, d, qs, e.fn); return nil })
		t.Logf("%-10s qps %8.1f p50 %6.2f p99 %6.2f cpu/q %.3f ms allocs/q %.0f KB/q %.1f", p.Name, p.QPS, p.P50Ms, p.P99Ms, p.CPUMsPerQuery, p.AllocsPerQuery, p.KBPerQuery)
	}
}
