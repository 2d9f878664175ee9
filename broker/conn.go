package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Keepalive of every connection, the broker's side and the client's:
// each side pings a peer it has not heard from for PingInterval, and a
// connection with MaxPingsOut pings unanswered counts as dead (20 to 25 s).
// That leaves a broker cut off by the network within half a minute, and
// keeps the connection of a busy process: a node indexing on two cores, or
// every role of `shoal dev` in one process, may leave its network
// goroutines waiting whole seconds for a turn, and a connection dropped
// for that fails the writes in flight on it. (It was 2 s and 3 pings: under
// the race detector, with test binaries side by side, a coordinator lost
// its connection in the middle of a bulk write.)
const (
	PingInterval = 5 * time.Second
	MaxPingsOut  = 4
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
		nats.PingInterval(PingInterval),
		nats.MaxPingsOutstanding(MaxPingsOut),
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
