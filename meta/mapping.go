package meta

import (
	"encoding/json"
	"fmt"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"
)

// SourceField is the stored-only field that keeps each document's original
// JSON, so a get by id returns exactly what was written.
const SourceField = "_source"

// BuildMapping turns an index definition's mapping (bleve's JSON form, or
// empty for Bleve's dynamic default) into the mapping every shard uses:
// BM25 scoring and a stored-only SourceField are always set.
func BuildMapping(raw json.RawMessage) (*mapping.IndexMappingImpl, error) {
	m := bleve.NewIndexMapping()
	if len(raw) > 0 && string(raw) != "null" {
		m = mapping.NewIndexMapping()
		if err := json.Unmarshal(raw, m); err != nil {
			return nil, fmt.Errorf("mapping: %w", err)
		}
	}
	if m.ScoringModel != "" && m.ScoringModel != index.BM25Scoring {
		return nil, fmt.Errorf("mapping: scoring_model %q is not supported: Shoal scores with bm25 and global statistics", m.ScoringModel)
	}
	m.ScoringModel = index.BM25Scoring
	src := mapping.NewTextFieldMapping()
	src.Index = false
	src.Store = true
	src.IncludeInAll = false
	src.IncludeTermVectors = false
	src.DocValues = false
	if m.DefaultMapping == nil {
		m.DefaultMapping = mapping.NewDocumentMapping()
	}
	m.DefaultMapping.AddFieldMappingsAt(SourceField, src)
	for _, tm := range m.TypeMapping {
		tm.AddFieldMappingsAt(SourceField, src)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	return m, nil
}
