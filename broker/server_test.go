package broker

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-search/shoal/internal/testwait"
)

// logLines is a nats-server logger that keeps the errors and warnings.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
}

func (l *logLines) Noticef(string, ...any)         {}
func (l *logLines) Debugf(string, ...any)          {}
func (l *logLines) Tracef(string, ...any)          {}
func (l *logLines) Warnf(format string, v ...any)  { l.add(format, v...) }
func (l *logLines) Errorf(format string, v ...any) { l.add(format, v...) }
func (l *logLines) Fatalf(format string, v ...any) { l.add(format, v...) }
func (l *logLines) contains(s string) (bool, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true, line
		}
	}
	return false, strings.Join(l.lines, "\n")
}

// startRouted starts a broker of a cluster listening for routes on
// cluster, with routes to the given cluster addresses, the auth directory
// auth and the certificates tf, and keeps its errors and warnings.
func startRouted(t *testing.T, name, cluster, auth string, tf TLSFiles, routes ...string) (*Server, *logLines) {
	t.Helper()
	o := ServerOptions{
		Name: name, Listen: "127.0.0.1:-1", DataDir: t.TempDir(),
		ClusterListen: cluster, AuthDir: auth, TLS: tf,
	}
	for _, r := range routes {
		o.Routes = append(o.Routes, "nats://"+r)
	}
	s, err := StartServer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	logs := &logLines{}
	s.ns.SetLogger(logs, false, false)
	return s, logs
}

// TestRoutesAuthenticated: brokers of one cluster route to each other over
// TLS with the route password; a broker with another auth directory's
// password, or with a certificate from another CA, is refused.
func TestRoutesAuthenticated(t *testing.T) {
	dir := t.TempDir()
	auth, otherAuth := filepath.Join(dir, "auth"), filepath.Join(dir, "other-auth")
	for _, d := range []string{auth, otherAuth} {
		if _, err := InitAuth(d); err != nil {
			t.Fatal(err)
		}
	}
	certs, err := WriteCerts(filepath.Join(dir, "tls"), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	otherCerts, err := WriteCerts(filepath.Join(dir, "other-tls"), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	// JetStream needs a cluster's routes configured from the start.
	a1, a2 := freeAddr(t), freeAddr(t)
	b1, _ := startRouted(t, "b1", a1, auth, certs, a2)
	b2, _ := startRouted(t, "b2", a2, auth, certs, a1)
	testwait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
		if n1, n2 := b1.ns.NumRoutes(), b2.ns.NumRoutes(); n1 == 0 || n2 == 0 {
			return fmt.Errorf("routes: b1 %d, b2 %d", n1, n2)
		}
		return nil
	})
	tests := []struct {
		name string
		auth string
		tls  TLSFiles
		want string // in the refused broker's log
	}{
		{"WrongPassword", otherAuth, certs, "Authorization Violation"},
		{"OtherCA", auth, otherCerts, "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, logs := startRouted(t, "b3", freeAddr(t), tc.auth, tc.tls, a1)
			testwait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
				if ok, lines := logs.contains(tc.want); !ok {
					return fmt.Errorf("no %q in the log:\n%s", tc.want, lines)
				}
				return nil
			})
			// A refused route may be counted for a moment, between the
			// other side's INFO and its refusal.
			testwait.For(t, 5*time.Second, 20*time.Millisecond, func() error {
				if n := b.ns.NumRoutes(); n != 0 {
					return fmt.Errorf("the refused broker has %d routes", n)
				}
				return nil
			})
		})
	}
}

// freeAddr is a TCP address on 127.0.0.1 that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
