package tracing

import (
	"context"
	"log/slog"
)

// LogHandler wraps h so that every record logged with a context that
// carries a trace gets the attribute request_id, the trace id: the same id
// as the request's X-Request-Id answer header and its spans.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

// RequestIDKey is the attribute that carries the request id in logs.
const RequestIDKey = "request_id"

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String(RequestIDKey, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name)}
}
