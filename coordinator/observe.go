package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// How presearch found a search's statistics (Profile.Phases.StatsCache).
const (
	cacheHit  = "hit"
	cacheMiss = "miss"
	cacheNone = "none" // the search does not score
)

// observe is what a search of index leaves behind once it ends: its
// metrics, its span's outcome, its profile if asked, a slow-query log line
// if slow, and a (rate-limited) log line if shards were missing. q is nil
// for a request refused before it was a query; res and outcomes are nil
// for a search that ended before its shards were asked.
func (c *Coordinator) observe(ctx context.Context, index string, q *query, tl *timeline, res *Response, outcomes []shardOutcome, err error) {
	took := time.Since(tl.start)
	outcome := searchOutcome(res, err)
	c.metrics.search(index, outcome, took.Seconds())
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("shoal.outcome", outcome))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	if outcomes == nil {
		return
	}
	c.metrics.phase(phasePresearch, tl.spent[stagePresearch].Seconds())
	c.metrics.phase(phaseScatter, tl.spent[stageScatter].Seconds())
	c.metrics.phase(phaseMerge, tl.spent[stageMerge].Seconds())
	var prof *Profile
	slow := c.opts.SlowQuery > 0 && took >= c.opts.SlowQuery
	if q.profile || slow {
		prof = buildProfile(q, tl, outcomes)
	}
	if res != nil {
		c.metrics.scores(index, res.Statistics)
		if res.Statistics != nil {
			span.SetAttributes(attribute.Bool("shoal.scores_exact", res.Statistics.Exact))
		}
		res.TookMS = tl.total().Milliseconds() // as the profile counts it
		if q.profile {
			res.Profile = prof
		}
	}
	if slow {
		c.logSlow(ctx, index, outcome, prof)
	}
	var unavail *UnavailableError
	switch {
	case outcome == searchPartial:
		c.logPartial(ctx, index, res.Shards, "partial answer")
	case errors.As(err, &unavail):
		c.logPartial(ctx, index, unavail.Shards, "shards missing, partial answer not allowed")
	}
}

// indexLabel is index as a label value: the name if the catalog knows
// it, else "" (a label never holds what a client made up).
func (c *Coordinator) indexLabel(index string) string {
	if _, err := c.cat.Index(index); err != nil {
		return ""
	}
	return index
}

// logSlow writes the slow-query line of a search: its index, took, the
// profile's phases and its slowest shard.
func (c *Coordinator) logSlow(ctx context.Context, index, outcome string, p *Profile) {
	attrs := []any{
		"index", index, "took_ms", p.TookUS / 1000, "outcome", outcome,
		"prepare_us", p.Phases.PrepareUS, "presearch_us", p.Phases.PresearchUS, "stats_cache", p.Phases.StatsCache,
		"scatter_us", p.Phases.ScatterUS, "merge_us", p.Phases.MergeUS,
	}
	if s := p.slowest(); s != nil {
		attrs = append(attrs, slog.Group("slowest_shard", "shard", s.Shard, "node", s.Node, "copy", s.Copy,
			"wait_us", s.WaitUS, "queue_us", s.QueueUS, "search_us", s.SearchUS, "network_us", s.NetworkUS, "hedges", s.Hedges))
	}
	c.log.WarnContext(ctx, "slow query", attrs...)
}

// logPartial writes which shards a search missed and why, at most once
// per Options.PartialLogEvery; the searches in between are counted.
func (c *Coordinator) logPartial(ctx context.Context, index string, acc ShardsAccount, msg string) {
	ok, skipped := c.partial.Allow(time.Now())
	if !ok {
		return
	}
	missing := make([]string, 0, len(acc.Failures))
	for _, f := range acc.Failures {
		missing = append(missing, fmt.Sprintf("%d@%s: %s", f.Shard, f.Node, f.Reason))
	}
	c.log.WarnContext(ctx, msg, "index", index, "failed", acc.Failed, "total", acc.Total,
		"missing", strings.Join(missing, "; "), "suppressed_since_last", skipped)
}
