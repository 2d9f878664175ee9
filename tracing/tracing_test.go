package tracing

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
)

// TestNATSHeadersCarryTheTrace: the trace context goes into a NATS
// message as the W3C traceparent header, spelled in lower case, and comes
// out as the remote parent of the receiver's spans.
func TestNATSHeadersCarryTheTrace(t *testing.T) {
	ctx := Ensure(context.Background())
	id := RequestID(ctx)
	if len(id) != 32 {
		t.Fatalf("request id %q", id)
	}
	if again := RequestID(Ensure(ctx)); again != id {
		t.Errorf("Ensure replaced trace %s with %s", id, again)
	}
	msg := nats.NewMsg("x")
	InjectNATS(ctx, msg)
	tp := msg.Header.Get("traceparent")
	if !strings.HasPrefix(tp, "00-"+id+"-") {
		t.Fatalf("traceparent %q, want trace %s", tp, id)
	}
	got := trace.SpanContextFromContext(ExtractNATS(context.Background(), msg))
	if got.TraceID().String() != id || !got.IsRemote() {
		t.Errorf("extracted %v, want remote trace %s", got, id)
	}
	plain := nats.NewMsg("y")
	InjectNATS(context.Background(), plain)
	if plain.Header.Get("traceparent") != "" {
		t.Error("a context without a trace wrote a traceparent")
	}
}

func TestExtractHTTPHonoursTraceparent(t *testing.T) {
	h := http.Header{}
	h.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if id := RequestID(ExtractHTTP(context.Background(), h)); id != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("request id %q", id)
	}
	h.Set("Traceparent", "garbage")
	if id := RequestID(ExtractHTTP(context.Background(), h)); id != "" {
		t.Errorf("request id %q from a bad traceparent", id)
	}
}

func TestLogHandlerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil))).With("role", "test")
	ctx := Ensure(context.Background())
	log.InfoContext(ctx, "about a request")
	log.Info("about nothing")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "request_id="+RequestID(ctx)) || strings.Contains(lines[1], "request_id") {
		t.Errorf("log:\n%s", buf.String())
	}
}

func TestStartOffIsNoop(t *testing.T) {
	p, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.Tracer("t").Start(context.Background(), "x")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Error("tracing off records spans")
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	on, err := Start(context.Background(), Options{Export: true, Endpoint: "127.0.0.1:1", Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, span = on.Tracer("t").Start(context.Background(), "x")
	if !span.IsRecording() {
		t.Error("tracing on does not record")
	}
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	_ = on.Shutdown(ctx) // nothing listens there: the flush fails, quickly
}

func TestHasScheme(t *testing.T) {
	for s, want := range map[string]bool{"http://h:4318": true, "https://h": true, "h:4318": false, "localhost:4318/x": false, "": false} {
		if hasScheme(s) != want {
			t.Errorf("hasScheme(%q) = %v", s, !want)
		}
	}
}
