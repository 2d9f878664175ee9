package searcher_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/internal/testcluster"
	"github.com/shoal-search/shoal/internal/testwait"
	"github.com/shoal-search/shoal/meta"
	"github.com/shoal-search/shoal/protocol"
	"github.com/shoal-search/shoal/searcher"
)

// oneCopy is a one-node cluster holding the one shard of an index, with
// oneCopyDocs documents applied, and a NATS connection to ask the copy directly.
type oneCopy struct {
	cl    *client.Client
	node  *searcher.Node
	nc    *nats.Conn
	index string
	uid   string
}

const oneCopyDocs = 10

func startOneCopy(t *testing.T, index string) *oneCopy {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := testcluster.Start(t, 1)
	cl := client.New(c.URL())
	if err := cl.CreateIndex(ctx, index, client.IndexSettings{Shards: 1}); err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	for i := range oneCopyDocs {
		fmt.Fprintf(&body, `{"id":"d%d","body":"common text %d"}`+"\n", i, i)
	}
	if res, err := cl.Bulk(ctx, index, []byte(body.String()), true); err != nil || res.Indexed != oneCopyDocs {
		t.Fatalf("bulk: %+v %v", res, err)
	}
	nc := testcluster.Connect(t, c, broker.RoleAdmin, "")
	def, err := c.Frontend.Catalog.Index(index)
	if err != nil {
		t.Fatal(err)
	}
	return &oneCopy{cl: cl, node: c.Searcher(0), nc: nc, index: index, uid: def.UID}
}

// ask sends op's request v (JSON) to the copy's own subject and decodes
// the reply into out.
func (o *oneCopy) ask(ctx context.Context, op string, v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	msg, err := o.nc.RequestWithContext(ctx, protocol.CopySubject(o.node.Name(), o.index, 0, op), b)
	if err != nil {
		return err
	}
	return protocol.DecodeReply(msg, out)
}

// search asks the copy for every document, with timeout, and says how
// long the answer took.
func (o *oneCopy) search(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	req, _ := json.Marshal(map[string]any{"query": map[string]any{"match": "common", "field": "body"}, "size": oneCopyDocs})
	start := time.Now()
	var r protocol.SearchReply
	err := o.ask(ctx, protocol.OpSearch, protocol.SearchRequest{Request: req, Timeout: timeout}, &r)
	if err == nil && r.Result.Total != oneCopyDocs {
		err = fmt.Errorf("search found %d documents, want %d", r.Result.Total, oneCopyDocs)
	}
	return time.Since(start), err
}

func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	var se *protocol.ShardError
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("error %v, want a shard error with code %d", err, code)
	}
}

// TestFaults drives each fault hook on a real node: a search delay, replies
// dropped, and a paused stream consumer; each is undone after.
func TestFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := startOneCopy(t, "faults")

	t.Run("SearchDelay", func(t *testing.T) {
		const delay = 500 * time.Millisecond
		o.node.SetSearchDelay(delay)
		if took, err := o.search(ctx, 10*time.Second); err != nil || took < delay {
			t.Errorf("search with a %v delay: %v after %v", delay, err, took)
		}
		_, err := o.search(ctx, 100*time.Millisecond)
		wantCode(t, err, protocol.CodeTimeout)
		o.node.Faults().SetSearchDelay(0)
		if took, err := o.search(ctx, 10*time.Second); err != nil || took >= delay {
			t.Errorf("search without delay: %v after %v", err, took)
		}
	})

	t.Run("DropReplies", func(t *testing.T) {
		o.node.Faults().SetDropReplies(true)
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := o.ask(short, protocol.OpStats, nil, new(json.RawMessage))
		cancel()
		// The request was delivered and never answered: a deadline, not
		// "no responders".
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("stats request to a node dropping replies: %v, want a deadline", err)
		}
		o.node.Faults().SetDropReplies(false)
		if _, err := o.search(ctx, 10*time.Second); err != nil {
			t.Errorf("search once replies are back: %v", err)
		}
	})

	t.Run("PauseConsumers", func(t *testing.T) {
		f := o.node.Faults()
		f.PauseConsumers()
		defer f.ResumeConsumers()
		applied := o.node.Status().Copies[0].AppliedSeq
		if _, err := o.cl.PutDoc(ctx, o.index, "late", map[string]string{"body": "late"}, false); err != nil {
			t.Fatal(err)
		}
		// The write is stored in the stream; the paused copy does not
		// apply it within the wait's deadline.
		wait := protocol.WaitRequest{Seq: applied + 1, Timeout: 500 * time.Millisecond}
		wantCode(t, o.ask(ctx, protocol.OpWait, wait, new(json.RawMessage)), protocol.CodeTimeout)
		if got := o.node.Status().Copies[0].AppliedSeq; got != applied {
			t.Fatalf("paused copy applied seq %d, was %d", got, applied)
		}
		f.ResumeConsumers()
		testwait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
			var got protocol.GetResponse
			if err := o.ask(ctx, protocol.OpGet, protocol.GetRequest{ID: "late"}, &got); err != nil {
				return err
			}
			if !got.Found {
				return errors.New("the write made while paused is not applied")
			}
			return nil
		})
	})
}

// TestCopyEndpointReplies checks the wire of a copy's endpoints: a request
// it rejects carries the service error headers protocol.DecodeReply reads,
// the shard's queue-group subject answers, and a shard the node does not
// hold has no responders.
func TestCopyEndpointReplies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := startOneCopy(t, "wire")

	msg, err := o.nc.RequestWithContext(ctx, protocol.CopySubject(o.node.Name(), o.index, 0, protocol.OpSearch), []byte("not json"))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Nats-Service-Error-Code") != "400" || !strings.HasPrefix(msg.Header.Get("Nats-Service-Error"), "decode search request: ") {
		t.Errorf("bad request answered with headers %v", msg.Header)
	}
	wantCode(t, protocol.DecodeReply(msg, new(protocol.SearchReply)), protocol.CodeBadRequest)

	msg, err = o.nc.RequestWithContext(ctx, protocol.ShardSubject(o.index, 0, protocol.OpStats), nil)
	if err != nil {
		t.Fatal(err)
	}
	var st meta.CopyStatus
	if err := protocol.DecodeReply(msg, &st); err != nil || st.Node != o.node.Name() {
		t.Errorf("stats on the shard subject: %+v %v", st, err)
	}

	_, err = o.nc.RequestWithContext(ctx, protocol.CopySubject(o.node.Name(), o.index, 1, protocol.OpStats), nil)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("a shard not held: %v, want no responders", err)
	}
}
