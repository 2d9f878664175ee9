package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Connect opens a NATS connection named name that reconnects forever, so a
// broker restart is a pause, not a failure. It fails only if the first
// connection cannot be made before ctx ends.
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
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, fmt.Errorf("broker: connect %s: %w", url, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nc, nil
}
