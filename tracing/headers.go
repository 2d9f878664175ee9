package tracing

import (
	"context"
	"net/http"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// natsCarrier is a NATS message's headers as a propagation carrier. The
// keys are the W3C names as they are, lower case: nats.Header, unlike
// http.Header, does not canonicalise them.
type natsCarrier nats.Header

func (c natsCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c natsCarrier) Set(key, value string) { c[key] = []string{value} }

func (c natsCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// InjectNATS writes ctx's trace context into a NATS message's headers
// (traceparent, and tracestate if any); a ctx without a trace writes
// nothing. A nil *msg.Header is made.
func InjectNATS(ctx context.Context, msg *nats.Msg) {
	if RequestID(ctx) == "" {
		return
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	propagator.Inject(ctx, natsCarrier(msg.Header))
}

// ExtractNATS returns ctx carrying the trace context of a NATS message's
// headers, as the remote parent of the spans started from it.
func ExtractNATS(ctx context.Context, msg *nats.Msg) context.Context {
	if msg.Header == nil {
		return ctx
	}
	return propagator.Extract(ctx, natsCarrier(msg.Header))
}

// ExtractHTTP returns ctx carrying the trace context of an HTTP request's
// headers (an incoming traceparent is honoured).
func ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}
