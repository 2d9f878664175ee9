package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/shoal-search/shoal/catalog"
	"github.com/shoal-search/shoal/corpus"
	"github.com/shoal-search/shoal/indexer"
	"github.com/shoal-search/shoal/meta"
)

// SampleIndex is the name of the index `shoal dev` loads on first start.
const SampleIndex = "sample"

// LoadSample creates the sample index from the corpus shipped in the binary
// unless it exists, and waits until it is searchable. It reports the number
// of documents written (0 when the index existed).
func (f *Frontend) LoadSample(ctx context.Context, shards int) (int, error) {
	if _, err := f.Catalog.Index(SampleIndex); err == nil {
		return 0, nil
	}
	m, err := json.Marshal(corpus.SampleMapping())
	if err != nil {
		return 0, err
	}
	facets := map[string]meta.FacetDef{}
	for name, fd := range corpus.SampleFacets() {
		facets[name] = meta.FacetDef{Field: fd.Field, Size: fd.Size}
	}
	_, err = f.Catalog.CreateIndex(ctx, meta.IndexDef{Name: SampleIndex, Shards: shards, Replicas: 1, Mapping: m, Facets: facets})
	if err != nil && !errors.Is(err, catalog.ErrIndexExists) {
		return 0, err
	}
	r := corpus.NewReader(corpus.Sample(), corpus.ReaderOptions{})
	total := 0
	var batch []indexer.Op
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := f.Indexer.Write(ctx, SampleIndex, batch)
		if err != nil {
			return err
		}
		if res.Failed > 0 {
			return fmt.Errorf("sample: %d documents not stored: %s", res.Failed, res.Errors[0].Err)
		}
		if err := f.Indexer.WaitSearchable(ctx, SampleIndex, res); err != nil {
			return err
		}
		total += len(batch)
		batch = batch[:0]
		return nil
	}
	for {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return total, err
		}
		if d.Err != nil {
			continue
		}
		batch = append(batch, indexer.Op{Line: d.Line, ID: d.ID, Doc: d.Body})
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	return total, flush()
}
