package broker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
)

// slogLogger routes the NATS server's log (server.Logger) through slog,
// so the broker's messages are structured like every other line: notices
// at Info, debug and trace at Debug, with the attribute component=nats-server.
type slogLogger struct{ log *slog.Logger }

func newSlogLogger(log *slog.Logger) slogLogger {
	return slogLogger{log.With("component", "nats-server")}
}

func (l slogLogger) Noticef(format string, v ...any) { l.log.Info(fmt.Sprintf(format, v...)) }
func (l slogLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l slogLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l slogLogger) Fatalf(format string, v ...any) {
	l.log.Error("fatal: " + fmt.Sprintf(format, v...))
}
func (l slogLogger) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l slogLogger) Tracef(format string, v ...any) {
	l.log.Log(context.Background(), slog.LevelDebug-4, fmt.Sprintf(format, v...))
}

// LogEvents is the connect option that routes a NATS connection's events
// through log: asynchronous errors (a slow consumer, a permission denied),
// disconnects, reconnects and the close, with the attribute
// component=nats-client and the connection's name.
func LogEvents(log *slog.Logger) nats.Option {
	return func(o *nats.Options) error {
		l := log.With("component", "nats-client", "conn", o.Name)
		o.AsyncErrorCB = func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				l.Error("nats error", "subject", sub.Subject, "err", err)
				return
			}
			l.Error("nats error", "err", err)
		}
		o.DisconnectedErrCB = func(nc *nats.Conn, err error) {
			if err == nil { // closed on purpose
				l.Debug("disconnected from NATS")
				return
			}
			l.Warn("disconnected from NATS", "err", err)
		}
		o.ReconnectedCB = func(nc *nats.Conn) { l.Info("reconnected to NATS", "server", nc.ConnectedUrlRedacted()) }
		o.ClosedCB = func(*nats.Conn) { l.Debug("NATS connection closed") }
		return nil
	}
}
