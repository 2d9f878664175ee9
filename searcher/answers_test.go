package searcher_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/protocol"
)

// nodeSearch sends a node search request for shard 0 of the copy's index
// and returns the reply (or the error) and how long it took.
func (o *oneCopy) nodeSearch(ctx context.Context, nr protocol.NodeSearchRequest) (*protocol.SearchReply, time.Duration, error) {
	nr.Index, nr.UID, nr.Shards = o.index, o.uid, []int{0}
	nr.Request = json.RawMessage(`{"query":{"match_all":{}},"size":100}`)
	b, err := nr.AppendBinary(nil)
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	msg, err := o.nc.RequestWithContext(ctx, protocol.NodeSubject(o.node.Name(), protocol.OpSearch), b)
	took := time.Since(start)
	if err != nil {
		return nil, took, err
	}
	var r protocol.SearchReply
	return &r, took, protocol.DecodeReply(msg, &r)
}

// TestCancel checks that a cancel on the node's subject stops a running
// search (held by an injected delay of an hour): it answers at once, and
// the node counts it. (A cancel that comes before its search is
// cancels' unit test.)
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := startOneCopy(t, "cancels")
	o.node.SetSearchDelay(time.Hour)
	defer o.node.SetSearchDelay(0)
	cancelSubject := protocol.NodeSubject(o.node.Name(), protocol.OpCancel)

	t.Run("Running", func(t *testing.T) {
		before := o.node.CancelledSearches()
		type result struct {
			took time.Duration
			err  error
		}
		done := make(chan result, 1)
		go func() {
			_, took, err := o.nodeSearch(ctx, protocol.NodeSearchRequest{ID: "running-1", Timeout: 30 * time.Second})
			done <- result{took, err}
		}()
		testwait.For(t, 10*time.Second, 5*time.Millisecond, func() error {
			if n := o.node.CancellableSearches(); n != 1 {
				return fmt.Errorf("%d cancellable searches running, want 1", n)
			}
			return nil
		})
		if err := o.nc.Publish(cancelSubject, []byte("running-1")); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err == nil || !strings.Contains(r.err.Error(), "context canceled") {
			t.Errorf("cancelled search answered %v, want its context cancelled", r.err)
		}
		if r.took > 10*time.Second {
			t.Errorf("cancelled search answered after %v", r.took)
		}
		if got := o.node.CancelledSearches() - before; got != 1 {
			t.Errorf("node counts %d cancelled searches, want 1", got)
		}
		if n := o.node.CancellableSearches(); n != 0 {
			t.Errorf("%d searches still registered", n)
		}
	})
}

// TestMinSeq checks read-your-writes on a real copy held behind its stream
// (its consumer paused): it reports the writes it has not applied, a
// search or get asking for a sequence it lacks answers CodeBehind after
// half of its time (not a timeout, and never the stale result), and a
// search that waits while the copy catches up answers with the write.
func TestMinSeq(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := startOneCopy(t, "fresh")
	f := o.node.Faults()
	f.PauseConsumers()
	defer f.ResumeConsumers()
	applied := o.node.Status().Copies[0].AppliedSeq
	for _, id := range []string{"late1", "late2"} {
		if _, err := o.cl.PutDoc(ctx, o.index, id, map[string]string{"body": "late"}, false); err != nil {
			t.Fatal(err)
		}
	}
	seq := applied + 2 // the only shard's writes are the stream's

	testwait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
		if p := o.node.Status().Copies[0].Pending; p < 2 {
			return fmt.Errorf("paused copy reports %d pending writes, want 2", p)
		}
		return nil
	})

	const timeout = 400 * time.Millisecond
	req, _ := json.Marshal(map[string]any{"query": map[string]any{"match_all": map[string]any{}}})
	start := time.Now()
	err := o.ask(ctx, protocol.OpSearch, protocol.SearchRequest{Request: req, Timeout: timeout, MinSeq: seq}, new(protocol.SearchReply))
	took := time.Since(start)
	wantCode(t, err, protocol.CodeBehind)
	if took < timeout/2 || took >= timeout {
		t.Errorf("copy answered behind after %v, want after half of its %v", took, timeout)
	}

	r, _, err := o.nodeSearch(ctx, protocol.NodeSearchRequest{Timeout: timeout, MinSeqs: []uint64{seq}})
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Shards[0]; st.Code != protocol.CodeBehind || st.AppliedSeq != applied || r.Result.Total != 0 {
		t.Errorf("node search of a copy behind: %+v, %d hits; want CodeBehind at seq %d and no hits", st, r.Result.Total, applied)
	}
	wantCode(t, o.ask(ctx, protocol.OpGet, protocol.GetRequest{ID: "late1", MinSeq: seq, Timeout: timeout}, new(protocol.GetResponse)), protocol.CodeBehind)

	// Without a minimum the paused copy answers at once, with what it has.
	r, _, err = o.nodeSearch(ctx, protocol.NodeSearchRequest{Timeout: timeout})
	if err != nil || r.Shards[0].Code != 0 || r.Result.Total != oneCopyDocs {
		t.Fatalf("search without a minimum: %+v %v", r, err)
	}

	type result struct {
		r   *protocol.SearchReply
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, _, err := o.nodeSearch(ctx, protocol.NodeSearchRequest{Timeout: 20 * time.Second, MinSeqs: []uint64{seq}})
		done <- result{r, err}
	}()
	f.ResumeConsumers()
	res := <-done
	if res.err != nil || res.r.Shards[0].Code != 0 || res.r.Shards[0].AppliedSeq < seq || res.r.Result.Total != oneCopyDocs+2 {
		t.Errorf("search waiting for seq %d while the copy resumes: %+v %v", seq, res.r, res.err)
	}
}
