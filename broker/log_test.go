package broker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-search/shoal/internal/testwait"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsGoThroughSlog: the NATS server's notices and a client
// connection's disconnect arrive as structured slog records.
func TestLogsGoThroughSlog(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := StartServer(ServerOptions{Name: "logtest", Listen: "127.0.0.1:-1", DataDir: t.TempDir(), Logger: log, Monitor: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"component":"nats-server"`) || !strings.Contains(buf.String(), "Server is ready") {
		t.Errorf("no server notice through slog:\n%s", buf.String())
	}
	if !strings.HasPrefix(srv.MonitorURL(), "http://127.0.0.1:") {
		t.Errorf("monitor URL %q", srv.MonitorURL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := Connect(ctx, srv.ClientURL(), "log-client", LogEvents(log))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	srv.Shutdown()
	testwait.For(t, 10*time.Second, 10*time.Millisecond, func() error {
		if s := buf.String(); !strings.Contains(s, `"msg":"disconnected from NATS"`) || !strings.Contains(s, `"conn":"log-client"`) {
			return fmt.Errorf("no disconnect line yet")
		}
		return nil
	})
}
