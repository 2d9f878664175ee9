package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/coordinator"
	"github.com/shoal-search/shoal/indexer"
	"github.com/shoal-search/shoal/searcher"
)

// frontendFlags are the coordinator's flags, shared by dev and coordinator.
type frontendFlags struct {
	http        string
	apiKey      string
	nodeTimeout time.Duration
	healAfter   time.Duration
	hedgeAfter  time.Duration
	hedgeBudget float64
	timeout     time.Duration
	writeTime   time.Duration
	statsBytes  int64
	termBytes   int64
	replicas    int
	tlsCert     string
	tlsKey      string
	public      bool
	perAddress  float64
	httpTimes   cluster.HTTPTimeouts
	limits      limitFlags
	logs        frontendLogFlags
	query       queryLimitFlags
}

// register adds the flags to cmd; searchers says whether it runs searchers
// too (shoal dev), which take the query limits they check.
func (f *frontendFlags) register(cmd *cobra.Command, searchers bool) {
	fs := cmd.Flags()
	fs.StringVar(&f.http, "http", "127.0.0.1:8080", "HTTP API listen address")
	fs.StringVar(&f.apiKey, "api-key", "", "the master key: with it (or any key created with POST /v1/keys) every API request needs a key (Authorization: Bearer KEY)")
	fs.BoolVar(&f.public, "public-search", false, "let anyone search and get documents without a key (for a public site search); everything else still needs one")
	fs.Float64Var(&f.perAddress, "rate-per-address", 100, "requests per second a client address may make without a key (or with a refused one) when keys are required (0 = no limit)")
	fs.DurationVar(&f.httpTimes.Read, "http-read-timeout", 2*time.Minute, "longest a client may take to send a whole request, body included")
	fs.DurationVar(&f.httpTimes.Write, "http-write-timeout", 3*time.Minute, "longest a request may take from its headers to the end of its answer")
	fs.DurationVar(&f.httpTimes.Idle, "http-idle-timeout", 2*time.Minute, "longest an idle keep-alive connection is kept")
	fs.DurationVar(&f.nodeTimeout, "node-timeout", 5*time.Second, "a searcher silent this long counts as dead")
	fs.DurationVar(&f.healAfter, "heal-after", 15*time.Second, "move shard copies off a node silent this long (0 = never)")
	fs.DurationVar(&f.hedgeAfter, "hedge-after", 0, "hedge a shard request to another copy after this fixed delay (0 = adaptive: the node's recent p95 latency)")
	fs.Float64Var(&f.hedgeBudget, "hedge-budget", coordinator.DefaultHedgeBudget, "hedges allowed, in percent of the shard requests of the last 10s (0 = no hedging)")
	fs.DurationVar(&f.timeout, "search-timeout", 10*time.Second, "default search timeout")
	fs.DurationVar(&f.writeTime, "write-timeout", indexer.DefaultWriteTimeout, "longest a write waits for JetStream to confirm it; past it the client gets 503 and the unconfirmed documents")
	fs.IntVar(&f.replicas, "meta-replicas", 1, "replicas of streams and KV buckets (3 on a 3-broker cluster)")
	fs.Int64Var(&f.statsBytes, "stats-cache-bytes", coordinator.DefaultStatsCacheBytes, "memory bound of the global-statistics cache")
	fs.Int64Var(&f.termBytes, "term-set-bytes", coordinator.DefaultTermSetBytes, "memory bound of the shards' term tables kept for global statistics (term document counts, field lengths)")
	f.limits.register(fs)
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve the HTTP API over HTTPS with this certificate (PEM; with --tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the key of --tls-cert (PEM)")
	f.logs.register(fs)
	f.query.register(fs, searchers)
}

// validate refuses a hedge budget that is not a percentage.
func (f *frontendFlags) validate() error {
	if f.hedgeBudget < 0 || f.hedgeBudget > 100 {
		return fmt.Errorf("--hedge-budget must be a percentage from 0 (no hedging) to 100, not %v", f.hedgeBudget)
	}
	return nil
}

// options are the frontend's options; logs makes its access log, reg is
// the process's registry and tp its tracer provider.
func (f *frontendFlags) options(logs *logFlags, reg *prometheus.Registry, tp trace.TracerProvider) cluster.FrontendOptions {
	o := cluster.FrontendOptions{
		HTTPAddr: f.http, NodeTimeout: f.nodeTimeout, HealAfter: f.healAfter,
		StreamReplicas: f.replicas, MetaReplicas: f.replicas, Logger: logs.logger(),
		Metrics: reg, TracerProvider: tp,
		HTTP: f.httpTimes,
	}
	o.Coordinator.SlowQuery = f.logs.slow
	if f.logs.access {
		o.Web.AccessLog = logs.loggerAt(slog.LevelInfo).With("log", "access")
	}
	o.Coordinator.HedgeAfter = f.hedgeAfter
	o.Coordinator.HedgeBudget = f.hedgeBudget
	if f.hedgeBudget == 0 {
		o.Coordinator.HedgeBudget = -1 // off
	}
	o.Coordinator.DefaultTimeout = f.timeout
	o.Indexer.WriteTimeout = f.writeTime
	o.Coordinator.StatsCacheBytes = f.statsBytes
	o.Coordinator.TermSetBytes = f.termBytes
	o.Web.APIKey = f.apiKey
	o.Web.PublicSearch = f.public
	o.Web.RatePerAddress = f.perAddress
	f.limits.apply(&o)
	o.Coordinator.QueryLimits = f.query.l
	o.TLS = broker.TLSFiles{Cert: f.tlsCert, Key: f.tlsKey}
	return o
}

// compactHelp describes the searchers' --compact-after.
const compactHelp = "merge a shard copy into one segment once it has taken no writes for this long (faster queries; 0: the default, negative: never)"

func newDevCmd() *cobra.Command {
	var (
		data       string
		natsListen string
		searchers  int
		shards     int
		noSample   bool
		tcp        bool
		monitor    string
		compact    time.Duration
		logs       logFlags
		front      frontendFlags
		traces     traceFlags
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a whole Shoal in one process: embedded NATS, searchers, coordinator, sample corpus",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			log := logs.logger()
			if err := front.validate(); err != nil {
				return err
			}
			tp, err := traces.start(ctx, "shoal-dev")
			if err != nil {
				return err
			}
			defer flush(tp, log)
			reg := cluster.NewRegistry()
			c, err := cluster.Start(ctx, cluster.Options{
				DataDir: data, NATSListen: natsListen, Searchers: searchers, InMemoryConns: !tcp,
				Frontend: front.options(&logs, reg, tp), Logger: log, Metrics: reg, TracerProvider: tp, BrokerMonitor: monitor,
				Searcher: searcher.Options{QueryLimits: front.query.l, CompactAfter: compact},
			})
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.WaitReady(ctx); err != nil {
				return err
			}
			if !noSample {
				start := time.Now()
				n, err := c.Frontend.LoadSample(ctx, shards)
				if err != nil {
					return fmt.Errorf("load sample corpus: %w", err)
				}
				if n > 0 {
					fmt.Printf("loaded %d sample documents into index %q in %s\n", n, cluster.SampleIndex, time.Since(start).Round(time.Millisecond))
				}
			}
			fmt.Printf("Shoal is running: %s  (NATS %s, %d searchers, data in %s)\n", c.URL(), c.NATSURL(), searchers, data)
			fmt.Printf("  NATS admits only clients with credentials, e.g. %s\n", broker.CredentialsPath(c.AuthDir(), broker.RoleAdmin, ""))
			fmt.Printf("  search page:  %s/\n  try the API:  curl '%s/v1/indexes/%s/search?q=http+client'\n", c.URL(), c.URL(), cluster.SampleIndex)
			<-ctx.Done()
			fmt.Println("shutting down")
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "./shoal-data", "data directory")
	cmd.Flags().StringVar(&natsListen, "nats-listen", "127.0.0.1:4222", "embedded NATS client address (other processes may join here, with credentials from <data>/auth)")
	cmd.Flags().IntVar(&searchers, "searchers", 4, "number of searcher nodes")
	cmd.Flags().BoolVar(&tcp, "tcp", false, "connect the in-process roles to the embedded broker over loopback TCP instead of in-memory pipes")
	cmd.Flags().IntVar(&shards, "sample-shards", 4, "shards of the sample index")
	cmd.Flags().BoolVar(&noSample, "no-sample", false, "do not load the sample corpus")
	cmd.Flags().StringVar(&monitor, "monitor", "", "serve the embedded broker's NATS monitoring endpoints (/varz, /jsz) at this address")
	cmd.Flags().DurationVar(&compact, "compact-after", searcher.DefaultCompactAfter, compactHelp)
	logs.register(cmd.Flags(), slog.LevelWarn)
	traces.register(cmd.Flags())
	front.register(cmd, true)
	bindEnv(cmd)
	return cmd
}

func newBrokerCmd() *cobra.Command {
	var (
		o       broker.ServerOptions
		verbose bool
		logs    logFlags
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run an embedded NATS server node with JetStream (clusterable), closed to clients without credentials",
		RunE: func(cmd *cobra.Command, args []string) error {
			if verbose && !cmd.Flags().Changed("log-level") {
				logs.level = logLevel(slog.LevelInfo)
			}
			o.Logger = logs.logger()
			if err := initAuth(o.AuthDir); err != nil {
				return err
			}
			srv, err := broker.StartServer(o)
			if err != nil {
				return err
			}
			fmt.Printf("NATS broker %q listening on %s (credentials required%s)\n", o.Name, srv.ClientURL(), tlsNote(o.TLS))
			if u := srv.MonitorURL(); u != "" {
				fmt.Printf("NATS monitoring on %s (/varz, /jsz, /connz, /healthz)\n", u)
			}
			<-cmd.Context().Done()
			srv.Shutdown()
			return nil
		},
	}
	host, _ := os.Hostname()
	cmd.Flags().StringVar(&o.Name, "name", host, "server name (unique in a cluster)")
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:4222", "client listen address")
	cmd.Flags().StringVar(&o.DataDir, "data", "./shoal-data/nats", "JetStream storage directory")
	cmd.Flags().StringVar(&o.ClusterName, "cluster-name", "shoal", "cluster name")
	cmd.Flags().StringVar(&o.ClusterListen, "cluster", "", "cluster listen address (host:port) to form a JetStream cluster")
	cmd.Flags().StringSliceVar(&o.Routes, "routes", nil, "routes to other cluster nodes (nats://host:port, comma separated)")
	cmd.Flags().StringVar(&o.Monitor, "monitor", "", "serve NATS's monitoring endpoints (/varz, /jsz, /connz, /healthz) at this address, for the Prometheus NATS exporter")
	cmd.Flags().StringVar(&o.AuthDir, "auth-dir", defaultAuthDir, "NATS accounts and credentials, made here on first start (every broker of a cluster needs the same)")
	cmd.Flags().StringVar(&o.TLS.Cert, "tls-cert", "", "certificate (PEM) for TLS on client connections and cluster routes")
	cmd.Flags().StringVar(&o.TLS.Key, "tls-key", "", "the key of --tls-cert (PEM)")
	cmd.Flags().StringVar(&o.TLS.CA, "tls-ca", "", "CA certificate (PEM) the brokers of a cluster verify each other's certificates with")
	cmd.Flags().BoolVar(&verbose, "logs", false, "print the server's notices too (--log-level info)")
	logs.register(cmd.Flags(), slog.LevelWarn)
	bindEnv(cmd)
	return cmd
}

func newSearcherCmd() *cobra.Command {
	var (
		nats    natsFlags
		o       searcher.Options
		logs    logFlags
		traces  traceFlags
		metrics string
		query   queryLimitFlags
	)
	cmd := &cobra.Command{
		Use:   "searcher",
		Short: "Run a searcher node hosting shard copies",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			o.Logger = logs.logger()
			o.QueryLimits = query.l
			tp, err := traces.start(ctx, "shoal-searcher")
			if err != nil {
				return err
			}
			defer flush(tp, o.Logger)
			o.TracerProvider = tp
			if metrics != "" {
				reg := cluster.NewRegistry()
				url, err := serveMetrics(ctx, metrics, reg, o.Logger)
				if err != nil {
					return err
				}
				o.Registerer = reg
				fmt.Printf("searcher %q metrics on %s\n", o.Name, url)
			}
			nc, creds, err := nats.connect(ctx, "shoal-searcher-"+o.Name, broker.LogEvents(o.Logger))
			if err != nil {
				return err
			}
			defer nc.Close()
			if err := checkCreds(creds, broker.RoleSearcher, o.Name); err != nil {
				return err
			}
			// Heartbeats on a connection of their own: on nc they wait
			// behind the writes the copies pull (searcher.Options.Control).
			ctl, _, err := nats.connect(ctx, "shoal-searcher-"+o.Name+"-control", broker.LogEvents(o.Logger))
			if err != nil {
				return err
			}
			defer ctl.Close()
			o.Control = ctl
			n, err := searcher.Start(ctx, nc, o)
			if err != nil {
				return err
			}
			fmt.Printf("searcher %q connected to %s, data in %s\n", o.Name, nats.url, o.DataDir)
			<-ctx.Done()
			return n.Close()
		},
	}
	host, _ := os.Hostname()
	nats.register(cmd.Flags())
	cmd.Flags().StringVar(&o.Name, "node", host, "node name, stable across restarts (the one its --creds were made for)")
	cmd.Flags().StringVar(&o.DataDir, "data", "./shoal-data/searcher", "shard data directory")
	cmd.Flags().DurationVar(&o.HeartbeatInterval, "heartbeat", time.Second, "heartbeat interval")
	cmd.Flags().IntVar(&o.BatchSize, "batch", searcher.DefaultBatchWrites, "most writes applied per Bleve batch")
	// Searchers no longer create the metadata buckets (coordinators do),
	// so the replica count is not theirs to set; the flag stays for the
	// command lines that pass it.
	cmd.Flags().Int("meta-replicas", 1, "ignored: coordinators create the KV buckets")
	_ = cmd.Flags().MarkDeprecated("meta-replicas", "coordinators create the KV buckets; set --meta-replicas there")
	cmd.Flags().StringVar(&metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464; empty = off)")
	cmd.Flags().Int64Var(&o.StatsCacheBytes, "stats-cache-bytes", searcher.DefaultStatsCacheBytes, "memory bound of the decoded global statistics")
	cmd.Flags().Int64Var(&o.TermSetBytes, "term-set-bytes", searcher.DefaultTermSetBytes, "memory bound of each shard copy's term tables")
	cmd.Flags().DurationVar(&o.CompactAfter, "compact-after", searcher.DefaultCompactAfter, compactHelp)
	query.register(cmd.Flags(), true)
	logs.register(cmd.Flags(), slog.LevelInfo)
	traces.register(cmd.Flags())
	bindEnv(cmd)
	return cmd
}

func newCoordinatorCmd() *cobra.Command {
	var (
		nats   natsFlags
		front  frontendFlags
		logs   logFlags
		traces traceFlags
	)
	cmd := &cobra.Command{
		Use:   "coordinator",
		Short: "Run a coordinator: the HTTP API, scatter/gather and shard placement",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			log := logs.logger()
			if err := front.validate(); err != nil {
				return err
			}
			tp, err := traces.start(ctx, "shoal-coordinator")
			if err != nil {
				return err
			}
			defer flush(tp, log)
			nc, creds, err := nats.connect(ctx, "shoal-coordinator", broker.LogEvents(log))
			if err != nil {
				return err
			}
			defer nc.Close()
			if err := checkCreds(creds, broker.RoleCoordinator, ""); err != nil {
				return err
			}
			f, err := cluster.StartFrontend(ctx, nc, front.options(&logs, cluster.NewRegistry(), tp))
			if err != nil {
				return err
			}
			fmt.Printf("coordinator serving %s (NATS %s)\n", f.URL(), nats.url)
			<-ctx.Done()
			return f.Close()
		},
	}
	nats.register(cmd.Flags())
	logs.register(cmd.Flags(), slog.LevelInfo)
	traces.register(cmd.Flags())
	front.register(cmd, false)
	bindEnv(cmd)
	return cmd
}
