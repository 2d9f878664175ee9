// Package tracing carries one search's trace across Shoal's processes:
// the OpenTelemetry tracer provider of a process (exporting over OTLP, or
// a no-op that costs nothing), the W3C trace context in HTTP and NATS
// headers, and the request id every answer and log line carries, which is
// the trace id.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Options configure a process's tracing.
type Options struct {
	// Export turns tracing on: spans are sent over OTLP/HTTP to Endpoint,
	// or, with Endpoint empty, where the standard OTEL_EXPORTER_OTLP_*
	// environment variables say. Off, the tracer provider is a no-op.
	Export bool
	// Endpoint is the collector's URL (http://host:4318) or host:port
	// (plain HTTP).
	Endpoint string
	// Service is the service.name of the spans ("shoal-coordinator").
	Service string
}

// Provider is a process's tracer provider and how to flush it.
type Provider struct {
	trace.TracerProvider
	shutdown func(context.Context) error
}

// Shutdown sends the spans still buffered and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.shutdown == nil {
		return nil
	}
	return p.shutdown(ctx)
}

// Start returns the tracer provider o asks for: an exporting one when
// o.Export, else a no-op.
func Start(ctx context.Context, o Options) (*Provider, error) {
	if !o.Export {
		return &Provider{TracerProvider: noop.NewTracerProvider()}, nil
	}
	var opts []otlptracehttp.Option
	switch {
	case o.Endpoint == "":
	case hasScheme(o.Endpoint):
		opts = append(opts, otlptracehttp.WithEndpointURL(o.Endpoint))
	default:
		opts = append(opts, otlptracehttp.WithEndpoint(o.Endpoint), otlptracehttp.WithInsecure())
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(o.Service)))
	if err != nil && !errors.Is(err, resource.ErrSchemaURLConflict) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Provider{TracerProvider: tp, shutdown: tp.Shutdown}, nil
}

func hasScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':':
			return i > 0 && len(s) > i+2 && s[i+1] == '/' && s[i+2] == '/'
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '+', c == '-', c == '.':
		default:
			return false
		}
	}
	return false
}

// OrNoop is tp, or a no-op provider when tp is nil.
func OrNoop(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return noop.NewTracerProvider()
	}
	return tp
}

// propagator is the W3C trace context: the traceparent and tracestate
// headers.
var propagator = propagation.TraceContext{}

// RequestID is the id of the request ctx belongs to: its trace id, or ""
// if ctx carries no trace.
func RequestID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// Ensure returns ctx with a trace: its own if it has one, else a new trace
// id that is not sampled. With tracing off, a request still gets an id
// that its answer, its log lines and the nodes it asks share.
func Ensure(ctx context.Context) context.Context {
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	var tid trace.TraceID
	var sid trace.SpanID
	putUint64(tid[:8], rand.Uint64())
	putUint64(tid[8:], rand.Uint64()|1) // never all zero
	putUint64(sid[:], rand.Uint64()|1)
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}
