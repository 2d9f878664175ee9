package searcher

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/protocol"
)

// request is one request a handler answers, on a worker of the node's
// pool. Its replies are published on the node's connection.
type request struct {
	msg *nats.Msg
	nc  *nats.Conn
	// ctx is the node's context carrying the trace context of the
	// message's headers, the parent of the request's spans.
	ctx context.Context
	// received is when the node's subscription got the request, and
	// queued how long it then waited for a worker.
	received time.Time
	queued   time.Duration
}

// Data is the request's payload.
func (r request) Data() []byte { return r.msg.Data }

// respond sends data, with hdr if not nil, to the request's reply subject.
func (r request) respond(data []byte, hdr nats.Header) error {
	if err := r.nc.PublishMsg(&nats.Msg{Subject: r.msg.Reply, Header: hdr, Data: data}); err != nil {
		return fmt.Errorf("searcher: reply: %w", err)
	}
	return nil
}

// respondJSON answers with v encoded as JSON.
func respondJSON(req request, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = req.respond(b, nil)
	}
	if err != nil {
		respondErr(req, protocol.CodeInternal, fmt.Errorf("encode reply: %w", err))
	}
}

// respondErr answers with an error: code and err's text in the service
// error headers, no payload.
func respondErr(req request, code int, err error) {
	_ = req.respond(nil, nats.Header{protocol.HeaderError: {err.Error()}, protocol.HeaderErrorCode: {strconv.Itoa(code)}})
}

// respondReply answers a search with a protocol.SearchReply.
func respondReply(req request, r *protocol.SearchReply) {
	b, err := r.AppendBinary(make([]byte, 0, 1024))
	if err != nil {
		respondErr(req, protocol.CodeInternal, err)
		return
	}
	if err := req.respond(b, nil); err != nil {
		respondErr(req, protocol.CodeInternal, err)
	}
}
