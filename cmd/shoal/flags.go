package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/shoal-search/shoal/client"
	"github.com/shoal-search/shoal/tracing"
)

// Flags shared by several commands: each group is defined here once and
// registered by every command that takes it.

// defaultServer is where the client subcommands find Shoal by default.
const defaultServer = "http://127.0.0.1:8080"

// defaultNATS is where the role subcommands find the broker by default.
const defaultNATS = "nats://127.0.0.1:4222"

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

// clientFlags are --server and --api-key, of the commands that talk to a
// Shoal server over HTTP.
type clientFlags struct {
	server, apiKey string
}

// register adds --server and --api-key to fs.
func (f *clientFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.server, "server", defaultServer, "Shoal server URL")
	fs.StringVar(&f.apiKey, "api-key", "", "API key sent as Authorization: Bearer KEY")
}

// newClient returns a client for the chosen server, identifying itself as
// agent.
func (f *clientFlags) newClient(agent string) *client.Client {
	return client.New(f.server, client.WithAPIKey(f.apiKey), client.WithUserAgent(agent))
}

// natsFlags is --nats, of the roles that connect to a broker.
type natsFlags struct {
	url string
}

// register adds --nats to fs.
func (f *natsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "nats", defaultNATS, "NATS URL(s), comma separated")
}
