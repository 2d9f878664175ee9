package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/rewrite"
	"github.com/shoal-search/shoal/web"
)

// limitFlags are the bounds on one request's work and on the requests in
// flight, of the commands that serve the HTTP API. README "Security of the HTTP API"
// tables them.
type limitFlags struct {
	maxBody, maxSearchBody          int64
	maxQueryString                  int
	maxSearchMemory, maxAnswerBytes int64
	maxWindow                       int
	maxSearchTimeout                time.Duration
	maxConcurrent, searchQueue      int
	searchQueueWait                 time.Duration
}

// register adds the limit flags to fs.
func (f *limitFlags) register(fs *pflag.FlagSet) {
	fs.Int64Var(&f.maxBody, "max-body", web.DefaultMaxBodyBytes, "largest request body, in bytes (bulk writes)")
	fs.Int64Var(&f.maxSearchBody, "max-search-body", web.DefaultMaxSearchBody, "largest search request body, in bytes")
	fs.IntVar(&f.maxQueryString, "max-query-string", coordinator.DefaultMaxQueryString, "longest query string, in bytes")
	fs.Int64Var(&f.maxSearchMemory, "max-search-memory", coordinator.DefaultMaxSearchMemory, "largest estimated memory of one search's answer, in bytes; a search over it is refused up front")
	fs.Int64Var(&f.maxAnswerBytes, "max-answer-bytes", coordinator.DefaultMaxAnswerBytes, "most bytes of shard replies (hits, stored fields, highlight) one search may assemble")
	fs.IntVar(&f.maxWindow, "max-result-window", 10000, "largest from+size of a search (deeper: search_after)")
	fs.DurationVar(&f.maxSearchTimeout, "max-search-timeout", time.Minute, "longest timeout a search may ask for")
	fs.IntVar(&f.maxConcurrent, "max-concurrent-searches", web.DefaultMaxConcurrentSearches, "searches in flight on this coordinator")
	fs.IntVar(&f.searchQueue, "search-queue", web.DefaultSearchQueue, "searches that may wait for a slot; beyond them a search is refused at once with 429 (0 = none wait)")
	fs.DurationVar(&f.searchQueueWait, "search-queue-wait", web.DefaultSearchQueueWait, "longest a search waits for a slot before it is refused with 429")
}

// apply sets the limits in o.
func (f *limitFlags) apply(o *cluster.FrontendOptions) {
	o.Web.MaxBodyBytes = f.maxBody
	o.Web.MaxSearchBody = f.maxSearchBody
	o.Web.MaxConcurrentSearches = f.maxConcurrent
	o.Web.SearchQueue = f.searchQueue
	if f.searchQueue == 0 {
		o.Web.SearchQueue = -1 // none: the library's zero is its default
	}
	o.Web.SearchQueueWait = f.searchQueueWait
	o.Coordinator.MaxQueryString = f.maxQueryString
	o.Coordinator.MaxSearchMemory = f.maxSearchMemory
	o.Coordinator.MaxAnswerBytes = f.maxAnswerBytes
	o.Coordinator.MaxWindow = f.maxWindow
	o.Coordinator.MaxTimeout = f.maxSearchTimeout
}

// queryLimitFlags are rewrite's bounds on one query: its clauses and depth
// (checked by the coordinator and by every searcher), and the terms one of
// its clauses may expand to and it may score (checked where the terms
// are, on the searchers).
type queryLimitFlags struct {
	l rewrite.Limits
}

// register adds the flags to fs: all of them on a command that runs
// searchers, clauses and depth only on one that does not.
func (f *queryLimitFlags) register(fs *pflag.FlagSet, searchers bool) {
	fs.IntVar(&f.l.MaxClauses, "max-clauses", rewrite.DefaultMaxClauses, "most leaf clauses one query may hold")
	fs.IntVar(&f.l.MaxDepth, "max-depth", rewrite.DefaultMaxDepth, "deepest nesting of a query's boolean clauses")
	if searchers {
		fs.IntVar(&f.l.MaxExpansions, "max-expansions", rewrite.DefaultMaxExpansions, "most terms one prefix, wildcard or regexp clause may match in one shard")
		fs.IntVar(&f.l.MaxScoredTerms, "max-scored-terms", rewrite.DefaultMaxScoredTerms, "most distinct terms one query may score, fuzzy expansions included")
	}
}
