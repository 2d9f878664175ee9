package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/corpus"
)

// bulk sends one NDJSON batch until every document in it is acknowledged,
// retrying while the service is unreachable or unavailable. It returns the
// number of retries.
func bulk(ctx context.Context, c *client.Client, index string, body []byte, n int, wait bool) (int, error) {
	for retries := 0; ; retries++ {
		res, err := c.Bulk(ctx, index, body, wait)
		switch {
		case err == nil && res.Failed == 0 && res.Indexed == n:
			return retries, nil
		case err == nil:
			err = fmt.Errorf("indexed %d of %d: %v", res.Indexed, n, res.Errors)
		case !client.IsUnavailable(err):
			return retries, err
		}
		if retries == 100 {
			return retries, fmt.Errorf("still failing after %d retries: %w", retries, err)
		}
		select {
		case <-ctx.Done():
			return retries, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func load(ctx context.Context, o opts) error {
	m, err := json.Marshal(corpus.SampleMapping())
	if err != nil {
		return err
	}
	if err := o.c.CreateIndex(ctx, o.index, client.IndexSettings{Shards: o.shards, Replicas: o.replicas, Mapping: m}); err != nil {
		return err
	}
	start := time.Now()
	r := corpus.NewReader(corpus.Sample(), corpus.ReaderOptions{})
	var buf bytes.Buffer
	total, inBatch, retries := 0, 0, 0
	flush := func() error {
		if inBatch == 0 {
			return nil
		}
		n, err := bulk(ctx, o.c, o.index, buf.Bytes(), inBatch, true)
		retries += n
		total += inBatch
		buf.Reset()
		inBatch = 0
		return err
	}
	for {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if d.Err != nil {
			continue
		}
		buf.Write(d.Body)
		buf.WriteByte('\n')
		if inBatch++; inBatch == 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "loaded %d sample documents into %s (%d shards x %d copies) in %v, %d retries\n",
		total, o.index, o.shards, o.replicas, time.Since(start).Round(time.Millisecond), retries)
	fmt.Println(total)
	return nil
}

// write bulk-writes o.n documents with ids prefix-0..n-1 in batches of 50,
// each retried until acknowledged.
func write(ctx context.Context, o opts) error {
	start := time.Now()
	retries := 0
	for lo := 0; lo < o.n; lo += 50 {
		var buf bytes.Buffer
		hi := min(lo+50, o.n)
		for i := lo; i < hi; i++ {
			fmt.Fprintf(&buf, `{"id":"%s-%d","title":"extra document %d","body":"written while containers were being killed","kind":"extra"}`+"\n", o.prefix, i, i)
		}
		r, err := bulk(ctx, o.c, o.index, buf.Bytes(), hi-lo, false)
		retries += r
		if err != nil {
			return fmt.Errorf("batch %d-%d: %w", lo, hi, err)
		}
	}
	fmt.Printf("wrote %d documents in %v with %d retried batches\n", o.n, time.Since(start).Round(time.Millisecond), retries)
	return nil
}
