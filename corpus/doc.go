// Package corpus is where Shoal's documents come from.
//
// It provides:
//
//   - [Open] and [NewReader], a tolerant reader for JSON Lines corpora
//     (optionally gzip-compressed) that reports bad lines individually
//     instead of failing the whole load;
//   - [Sample], [SampleMapping] and [SampleFacets], the built-in sample
//     corpus (about five thousand documents taken from the Go standard
//     library's documentation; see SAMPLE_LICENSE) together with the bleve
//     index mapping and facets the web UI uses for it;
//   - [Synthetic], a deterministic generator of English-like documents for
//     benchmark-scale data sets.
//
// The sample corpus is regenerated from the local Go installation with
//
//	go generate ./corpus
package corpus

//go:generate go run ./internal/gensample -o sample.jsonl.gz -license SAMPLE_LICENSE
