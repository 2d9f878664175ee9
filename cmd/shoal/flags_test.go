package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestLogLevelRefused: an unknown --log-level stops every command that
// takes it, with a non-zero exit status and a message naming the valid
// levels, whether given as a flag or through the environment.
func TestLogLevelRefused(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string
	}{
		{name: "dev", args: []string{"dev", "--no-sample", "--log-level", "loud"}},
		{name: "searcher", args: []string{"searcher", "--log-level", "verbose"}},
		{name: "coordinator", args: []string{"coordinator", "--log-level=trace"}},
		{name: "bench", args: []string{"bench", "--log-level", "warning"}},
		{name: "environment", args: []string{"coordinator"}, env: "chatty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("SHOAL_LOG_LEVEL", tt.env)
			}
			// Should the level be accepted by mistake, the command finds
			// its context ended and returns instead of serving.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			root := newRootCmd()
			var out, errOut strings.Builder
			root.SetOut(&out)
			root.SetErr(&errOut)
			root.SetArgs(tt.args)
			err := root.ExecuteContext(ctx)
			if err == nil {
				t.Fatalf("shoal %v: no error", tt.args)
			}
			if code := exitCode(err); code == 0 {
				t.Errorf("exit code %d, want non-zero", code)
			}
			msg := err.Error()
			for _, want := range []string{"log level", "debug, info, warn or error"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if tt.env != "" && !strings.Contains(msg, "SHOAL_LOG_LEVEL") {
				t.Errorf("error %q does not name the environment variable", msg)
			}
		})
	}
}

func TestLogLevelValue(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
		name string
	}{
		{"debug", slog.LevelDebug, "debug"},
		{"INFO", slog.LevelInfo, "info"},
		{"Warn", slog.LevelWarn, "warn"},
		{"error", slog.LevelError, "error"},
		{"debug+2", slog.LevelDebug + 2, "debug+2"},
	}
	for _, tt := range tests {
		var l logLevel
		if err := l.Set(tt.in); err != nil {
			t.Errorf("Set(%q): %v", tt.in, err)
			continue
		}
		if slog.Level(l) != tt.want || l.String() != tt.name {
			t.Errorf("Set(%q) = %v (%q), want %v (%q)", tt.in, slog.Level(l), l.String(), tt.want, tt.name)
		}
	}
	for _, bad := range []string{"", "loud", "warning", "3"} {
		var l logLevel
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

// TestSharedFlagDefaults: the shared flag groups give every command that
// takes them the same flags with the same defaults.
func TestSharedFlagDefaults(t *testing.T) {
	root := newRootCmd()
	want := map[string]map[string]string{
		"index":       {"server": defaultServer, "api-key": ""},
		"search":      {"server": defaultServer, "api-key": ""},
		"searcher":    {"nats": defaultNATS, "log-level": "info"},
		"coordinator": {"nats": defaultNATS, "log-level": "info"},
		"dev":         {"log-level": "warn"},
		"bench":       {"log-level": "warn"},
	}
	for name, flags := range want {
		cmd, _, err := root.Find([]string{name})
		if err != nil || cmd.Name() != name {
			t.Fatalf("command %s: %v", name, err)
		}
		for flag, def := range flags {
			f := cmd.Flags().Lookup(flag)
			if f == nil {
				t.Errorf("%s has no --%s", name, flag)
				continue
			}
			if f.DefValue != def {
				t.Errorf("%s --%s defaults to %q, want %q", name, flag, f.DefValue, def)
			}
		}
	}
}

// TestHedgeFlags: hedging is on by default (adaptive, 5% budget) for dev
// and coordinator; --hedge-budget 0 turns it off, --hedge-after fixes the
// delay, and a budget that is not a percentage is refused.
func TestHedgeFlags(t *testing.T) {
	tests := []struct {
		args    []string
		budget  float64
		after   time.Duration
		wantErr string
	}{
		{args: nil, budget: 5},
		{args: []string{"--hedge-budget", "0"}, budget: -1},
		{args: []string{"--hedge-budget", "2.5", "--hedge-after", "30ms"}, budget: 2.5, after: 30 * time.Millisecond},
		{args: []string{"--hedge-budget", "150"}, wantErr: "--hedge-budget must be a percentage"},
		{args: []string{"--hedge-budget", "-1"}, wantErr: "--hedge-budget must be a percentage"},
	}
	for _, cmd := range []string{"dev", "coordinator"} {
		for _, tt := range tests {
			var f frontendFlags
			c := &cobra.Command{Use: cmd}
			f.register(c, cmd == "dev")
			if err := c.Flags().Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := f.validate()
			o := f.options(&logFlags{}, nil, nil)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("%s %v: %v, want an error about %q", cmd, tt.args, err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("%s %v: %v", cmd, tt.args, err)
			case o.Coordinator.HedgeBudget != tt.budget || o.Coordinator.HedgeAfter != tt.after:
				t.Errorf("%s %v: budget %v, after %v; want %v, %v", cmd, tt.args, o.Coordinator.HedgeBudget, o.Coordinator.HedgeAfter, tt.budget, tt.after)
			}
		}
	}
}
