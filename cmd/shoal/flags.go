package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/tracing"
)

// Flags shared by several commands: each group is defined here once and
// registered by every command that takes it.

// defaultServer is where the client subcommands find Shoal by default.
const defaultServer = "http://127.0.0.1:8080"

// defaultNATS is where the role subcommands find the broker by default.
const defaultNATS = "nats://127.0.0.1:4222"

// defaultAuthDir is where the broker and `shoal creds` keep the NATS
// accounts and credentials by default.
const defaultAuthDir = "./shoal-data/auth"

// validLogLevels names the levels --log-level accepts, for help and errors.
const validLogLevels = "debug, info, warn or error"

// logFlags are --log-level and --log-format, of the commands that run
// Shoal roles.
type logFlags struct {
	level  logLevel
	format logFormat
}

// register adds --log-level and --log-format to fs, with def as the
// default level.
func (f *logFlags) register(fs *pflag.FlagSet, def slog.Level) {
	f.level = logLevel(def)
	f.format = "text"
	fs.Var(&f.level, "log-level", "log level: "+validLogLevels)
	fs.Var(&f.format, "log-format", "log format: text (key=value) or json")
}

// logger returns a structured logger on standard error at the chosen
// level; a line logged about a request carries its request_id.
func (f *logFlags) logger() *slog.Logger {
	return f.loggerAt(slog.Level(f.level))
}

// loggerAt is logger at another level (the access log's).
func (f *logFlags) loggerAt(level slog.Level) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, o)
	if f.format == "json" {
		h = slog.NewJSONHandler(os.Stderr, o)
	}
	return slog.New(tracing.LogHandler(h))
}

// logFormat is the value of --log-format: text or json.
type logFormat string

func (l *logFormat) String() string { return string(*l) }

// Set accepts text or json.
func (l *logFormat) Set(s string) error {
	if s != "text" && s != "json" {
		return fmt.Errorf("unknown log format %q: use text or json", s)
	}
	*l = logFormat(s)
	return nil
}

// Type names the value in help output.
func (l *logFormat) Type() string { return "format" }

// logLevel is the value of --log-level. Set refuses an unknown level, so
// that a typo stops the command instead of logging at some default.
type logLevel slog.Level

// String returns the level's name in lower case ("warn", "debug+2").
func (l *logLevel) String() string { return strings.ToLower(slog.Level(*l).String()) }

// Set parses a level name as slog does: debug, info, warn or error, in any
// case, optionally with an offset such as "debug+2".
func (l *logLevel) Set(s string) error {
	var v slog.Level
	if err := v.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("unknown log level %q: use %s", s, validLogLevels)
	}
	*l = logLevel(v)
	return nil
}

// Type names the value in help output.
func (l *logLevel) Type() string { return "level" }

// clientFlags are --server, --api-key and --tls-ca, of the commands that
// talk to a Shoal server over HTTP.
type clientFlags struct {
	server, apiKey, ca string
}

// register adds --server, --api-key and --tls-ca to fs.
func (f *clientFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.server, "server", defaultServer, "Shoal server URL")
	fs.StringVar(&f.apiKey, "api-key", "", "API key sent as Authorization: Bearer KEY")
	fs.StringVar(&f.ca, "tls-ca", "", "CA certificate (PEM) to verify an https:// server with (default: the system's)")
}

// newClient returns a client for the chosen server, identifying itself as
// agent.
func (f *clientFlags) newClient(agent string) (*client.Client, error) {
	opts := []client.Option{client.WithAPIKey(f.apiKey), client.WithUserAgent(agent)}
	if f.ca != "" {
		tc, err := broker.TLSFiles{CA: f.ca}.ClientConfig()
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: tr}))
	}
	return client.New(f.server, opts...), nil
}

// natsFlags are --nats, --creds and --tls-ca, of the roles that connect to
// a broker.
type natsFlags struct {
	url, creds, ca string
}

// register adds --nats, --creds and --tls-ca to fs.
func (f *natsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "nats", defaultNATS, "NATS URL(s), comma separated")
	fs.StringVar(&f.creds, "creds", "", "NATS credentials file (made by 'shoal creds'); a broker with --auth-dir refuses clients without")
	fs.StringVar(&f.ca, "tls-ca", "", "CA certificate (PEM) that signed the broker's: connect with TLS and verify the broker against it")
}

// connect opens the role's connection named name, with the credentials
// and TLS the flags ask for, and extra; creds is nil without --creds.
func (f *natsFlags) connect(ctx context.Context, name string, extra ...nats.Option) (nc *nats.Conn, creds *broker.Credentials, err error) {
	opts := extra
	if f.creds != "" {
		if creds, err = broker.LoadCredentials(f.creds); err != nil {
			return nil, nil, err
		}
		opts = append(opts, creds.Options()...)
	}
	if f.ca != "" {
		opts = append(opts, broker.ClientTLS(f.ca))
	}
	nc, err = broker.Connect(ctx, f.url, name, opts...)
	return nc, creds, err
}
