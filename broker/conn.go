package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Connect opens a NATS connection named name that reconnects forever, so a
// broker restart is a pause, not a failure. It fails if the first
// connection cannot be made before ctx ends, or if the broker refuses the
// client's credentials (NATS gives up after the same refusal twice).
func Connect(ctx context.Context, url, name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, 500*time.Millisecond),
		nats.PingInterval(2 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(64 << 20),
	}
	opts = append(opts, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: connect %s: %w", url, err)
	}
	for !nc.IsConnected() {
		if nc.IsClosed() {
			err := nc.LastError()
			if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
				err = fmt.Errorf("%w: the broker refuses these credentials, or a client without any", err)
			}
			return nil, fmt.Errorf("broker: connect %s: %w", url, err)
		}
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, fmt.Errorf("broker: connect %s: %w", url, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nc, nil
}
