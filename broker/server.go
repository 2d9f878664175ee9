// Package broker runs NATS for Shoal: the embedded nats-server with
// JetStream (alone or as a cluster node) and the connections every role
// opens to it.
package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerOptions configure an embedded NATS server node.
type ServerOptions struct {
	// Name is the server's name; it must be unique within a cluster.
	Name string
	// Listen is the client address, host:port. Port 0 picks a free port.
	Listen string
	// DataDir holds JetStream's storage.
	DataDir string
	// ClusterName, ClusterListen and Routes make the node part of a
	// JetStream cluster when ClusterListen is set.
	ClusterName   string
	ClusterListen string
	Routes        []string
	// AuthDir, when set, is an auth directory (InitAuth): the server
	// trusts its operator and accounts, refuses anonymous clients, and
	// routes authenticate with its route password. Without it anyone who
	// reaches the port may do anything.
	AuthDir string
	// TLS, when it names a certificate, makes clients and routes speak
	// TLS; routes then also verify each other against TLS.CA.
	TLS TLSFiles
	// MaxPayload is the largest message the server accepts (default 8 MiB).
	MaxPayload int32
	// Logs turns on the server's own logging to stderr, when Logger is
	// not set.
	Logs bool
	// Logger, when set, receives the server's log (notices at Info).
	Logger *slog.Logger
	// Monitor, when set (host:port), serves NATS's monitoring endpoints
	// there: /varz, /jsz, /connz, /healthz, which Prometheus scrapes
	// through the NATS exporter (README "Operating Shoal").
	Monitor string
}

// Server is a running embedded NATS server.
type Server struct {
	ns *server.Server
}

// StartServer starts an embedded NATS server with JetStream and waits until
// it accepts connections (and, in a cluster, until JetStream is ready
// locally).
func StartServer(o ServerOptions) (*Server, error) {
	opts, err := serverOptions(o)
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("broker: new server: %w", err)
	}
	switch {
	case o.Logger != nil:
		ctx := context.Background()
		ns.SetLogger(newSlogLogger(o.Logger), o.Logger.Enabled(ctx, slog.LevelDebug), o.Logger.Enabled(ctx, slog.LevelDebug-4))
	case o.Logs:
		ns.ConfigureLogger()
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("broker: server %q not ready for connections", o.Name)
	}
	if o.AuthDir != "" {
		if err := waitStore(ns, o.AuthDir); err != nil {
			ns.Shutdown()
			return nil, err
		}
	}
	return &Server{ns: ns}, nil
}

// serverOptions turns o into the server's options. With an auth
// directory they start from its auth.conf, read by nats-server's own
// configuration parser, so the embedded broker trusts exactly what an
// official nats-server including that file trusts.
func serverOptions(o ServerOptions) (*server.Options, error) {
	host, port, err := splitHostPort(o.Listen, "127.0.0.1", 4222)
	if err != nil {
		return nil, fmt.Errorf("broker: listen address: %w", err)
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = 8 << 20
	}
	opts := &server.Options{}
	if o.AuthDir != "" {
		if opts, err = server.ProcessConfigFile(AuthConf(o.AuthDir)); err != nil {
			return nil, fmt.Errorf("broker: auth: %w", err)
		}
	}
	opts.ServerName = o.Name
	opts.Host, opts.Port = host, port
	opts.JetStream = true
	opts.StoreDir = o.DataDir
	opts.MaxPayload = o.MaxPayload
	opts.NoSigs = true
	opts.NoLog = !o.Logs && o.Logger == nil
	opts.PingInterval = PingInterval
	opts.MaxPingsOut = MaxPingsOut
	opts.JetStreamMaxMemory = 256 << 20
	opts.JetStreamMaxStore = 64 << 30
	if o.TLS.Enabled() {
		if opts.TLSConfig, err = o.TLS.ServerConfig(); err != nil {
			return nil, fmt.Errorf("broker: %w", err)
		}
		opts.TLSTimeout = tlsTimeout
	}
	if o.ClusterListen != "" {
		if err := clusterOptions(opts, o); err != nil {
			return nil, err
		}
	}
	if o.Monitor != "" {
		mh, mp, err := splitHostPort(o.Monitor, "127.0.0.1", 8222)
		if err != nil {
			return nil, fmt.Errorf("broker: monitor address: %w", err)
		}
		opts.HTTPHost, opts.HTTPPort = mh, mp
	}
	return opts, nil
}

// tlsTimeout bounds a TLS handshake, in seconds.
const tlsTimeout = 2

// clusterOptions sets the cluster listener and the routes: with an auth
// directory every route presents (and requires) its route password, and
// with TLS every route verifies the other side's certificate.
func clusterOptions(opts *server.Options, o ServerOptions) error {
	ch, cp, err := splitHostPort(o.ClusterListen, "127.0.0.1", 6222)
	if err != nil {
		return fmt.Errorf("broker: cluster address: %w", err)
	}
	opts.Cluster = server.ClusterOpts{Name: o.ClusterName, Host: ch, Port: cp}
	if opts.Cluster.Name == "" {
		opts.Cluster.Name = "shoal"
	}
	var routeUser *url.Userinfo
	if o.AuthDir != "" {
		pw, err := routePassword(o.AuthDir)
		if err != nil {
			return err
		}
		opts.Cluster.Username, opts.Cluster.Password = RouteUser, pw
		routeUser = url.UserPassword(RouteUser, pw)
	}
	if o.TLS.Enabled() {
		if opts.Cluster.TLSConfig, err = o.TLS.routeConfig(); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
		opts.Cluster.TLSTimeout = tlsTimeout
	}
	for _, r := range o.Routes {
		u, err := url.Parse(r)
		if err != nil {
			return fmt.Errorf("broker: route %q: %w", r, err)
		}
		if u.User == nil {
			u.User = routeUser
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}

// ClientURL is the nats:// URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Shutdown stops the server and waits for it to finish.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

func splitHostPort(addr, defHost string, defPort int) (string, int, error) {
	if addr == "" {
		return defHost, defPort, nil
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if h == "" {
		h = defHost
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return h, port, nil
}

// InProcess is the connect option for a connection to s from inside its own
// process: it uses an in-memory pipe instead of a TCP socket.
func (s *Server) InProcess() nats.Option { return nats.InProcessServer(s.ns) }

// MonitorURL is the base URL of the monitoring endpoints ("" when off).
func (s *Server) MonitorURL() string {
	addr := s.ns.MonitorAddr()
	if addr == nil {
		return ""
	}
	return "http://" + addr.String()
}
