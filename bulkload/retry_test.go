package bulkload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-search/shoal/client"
)

func TestRetryableRequest(t *testing.T) {
	conn := &client.ConnError{Method: "POST", URL: "http://x/v1/indexes/books/bulk", Err: syscall.ECONNREFUSED}
	api := func(status int) error {
		return &client.APIError{Status: status, Type: "t", Reason: "r", Method: "POST", URL: "http://x"}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", conn, true},
		{"wrapped connection error", fmt.Errorf("bulk: %w", conn), true},
		{"502", api(http.StatusBadGateway), true},
		{"503", api(http.StatusServiceUnavailable), true},
		{"504", api(http.StatusGatewayTimeout), true},
		{"500", api(http.StatusInternalServerError), false},
		{"400", api(http.StatusBadRequest), false},
		{"401", api(http.StatusUnauthorized), false},
		{"404", api(http.StatusNotFound), false},
		{"413", api(http.StatusRequestEntityTooLarge), false},
		{"cancelled", context.Canceled, false},
		// The text of an error decides nothing.
		{"untyped text", errors.New("503 Service Unavailable: connection refused"), false},
	}
	for _, tt := range tests {
		if got := retryableRequest(tt.err); got != tt.want {
			t.Errorf("%s: retryableRequest(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestRetryableDoc(t *testing.T) {
	tests := []struct {
		e    client.BulkError
		want bool
	}{
		{client.BulkError{Line: 1, ID: "a", Error: "not stored: nats: timeout", Retryable: true}, true},
		{client.BulkError{Line: 1, ID: "a", Error: "anything at all", Retryable: true}, true},
		// The indexer's wording without the flag is not retried.
		{client.BulkError{Line: 1, ID: "a", Error: "not stored: nats: timeout"}, false},
		{client.BulkError{Line: 1, ID: "a", Error: "publish: nats: no responders"}, false},
		{client.BulkError{Line: 1, ID: "a", Error: "not confirmed: context deadline exceeded"}, false},
		{client.BulkError{Line: 1, Error: "invalid JSON"}, false},
	}
	for _, tt := range tests {
		if got := retryableDoc(tt.e); got != tt.want {
			t.Errorf("retryableDoc(%+v) = %v, want %v", tt.e, got, tt.want)
		}
	}
}

// TestLoadDoesNotRetryUnflaggedDocuments: a document the server failed
// without the retryable flag is rejected at once, whatever the wording.
func TestLoadDoesNotRetryUnflaggedDocuments(t *testing.T) {
	srv, c := newFakeShoal(t, &fakeShoal{unflagged: map[string]bool{"d4": true}})
	p := writeCorpus(t, t.TempDir(), "a.jsonl", docLines(10))
	var errs bytes.Buffer
	s, err := New(c, Options{Index: "books", Files: []string{p}, Errors: &errs}).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Indexed != 9 || s.Failed != 1 || s.Retries != 0 || srv.count() != 9 {
		t.Errorf("summary %+v, server %d docs; want 9 indexed, 1 failed, no retry", s, srv.count())
	}
	if n, _, _ := srv.stats(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	recs := readErrors(t, errs.Bytes())
	if len(recs) != 1 || recs[0].Line != 4 || recs[0].ID != "d4" {
		t.Errorf("rejected %+v, want line 4 (d4)", recs)
	}
}

func TestBackoff(t *testing.T) {
	t.Run("waits, then doubles the wait", func(t *testing.T) {
		b := newBackoff(time.Minute)
		start := time.Now()
		if err := b.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < retryFirstWait/2 {
			t.Errorf("first wait %v, want at least %v", d, retryFirstWait/2)
		}
		if b.next != 2*retryFirstWait {
			t.Errorf("next wait %v, want %v", b.next, 2*retryFirstWait)
		}
	})
	t.Run("gives up at once past the limit", func(t *testing.T) {
		b := newBackoff(time.Millisecond)
		start := time.Now()
		if err := b.wait(context.Background()); !errors.Is(err, errRetryTimeUp) {
			t.Fatalf("err = %v, want errRetryTimeUp", err)
		}
		if d := time.Since(start); d > retryFirstWait/2 {
			t.Errorf("giving up took %v", d)
		}
	})
	t.Run("ends with the context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := newBackoff(time.Minute).wait(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}
