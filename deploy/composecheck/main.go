// Command composecheck is the outside observer of deploy/compose-test.sh: it
// talks to a Shoal coordinator over its HTTP API only (through the port
// compose.yaml publishes on 127.0.0.1) and checks what a user would see
// while the script kills, disconnects and restarts containers.
//
//	composecheck ready   -url U [-nodes 4]              wait for /readyz 200 and live searchers
//	composecheck load    -url U -index I                create I, load the sample corpus, print the count
//	composecheck pick    -url U -index I                print two searchers that share no shard
//	composecheck queries -url U -index I -for 10s       search non-stop; -expect full|answer
//	composecheck write   -url U -index I -n 500         bulk-write extra documents, retrying
//	composecheck healed  -url U -index I -without NODE  wait until every shard has all its copies elsewhere
//	composecheck count   -url U -index I -want N        wait until the count is exact and copies agree
//	composecheck jsinfo  -nats URL -index I             check the JetStream cluster (run inside the compose network)
//
// Every command that talks to the API takes -ca FILE to verify an https://
// coordinator with; jsinfo takes -creds FILE (admin credentials) and -ca
// FILE to verify the brokers with.
//
//	composecheck freeport                               print a free TCP port on 127.0.0.1
//
// Every check prints one line of figures and exits with status 1 when the
// promise it checks is broken.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/client"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck ready|load|pick|queries|write|healed|count|jsinfo|freeport [flags]")
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	o := opts{}
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "coordinator base URL")
	fs.StringVar(&o.index, "index", "sample", "index name")
	fs.IntVar(&o.nodes, "nodes", 4, "ready: live searchers to wait for")
	fs.IntVar(&o.shards, "shards", 8, "load: shards")
	fs.IntVar(&o.replicas, "replicas", 2, "load: copies of each shard")
	fs.DurationVar(&o.dur, "for", 10*time.Second, "queries: how long to search")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Second, "queries: search timeout; other commands: how long to wait")
	fs.StringVar(&o.expect, "expect", "full", "queries: full (no failed or partial answer) or answer (no failed answer, each within its timeout)")
	fs.IntVar(&o.n, "n", 500, "write: documents to write")
	fs.StringVar(&o.prefix, "prefix", "extra", "write: id prefix")
	fs.StringVar(&o.without, "without", "", "healed: the node that must hold no copy")
	fs.IntVar(&o.want, "want", 0, "count: documents expected")
	fs.StringVar(&o.nats, "nats", "nats://broker1:4222", "jsinfo: NATS URL")
	fs.StringVar(&o.creds, "creds", "", "jsinfo: NATS credentials file")
	fs.StringVar(&o.ca, "ca", "", "CA certificate (PEM) of the coordinator's HTTPS and of the brokers' TLS")
	if err := fs.Parse(args); err != nil {
		os.Exit(2)
	}
	o.hc = &http.Client{Timeout: 60 * time.Second}
	if o.ca != "" {
		tc, err := broker.TLSFiles{CA: o.ca}.ClientConfig()
		if err != nil {
			fmt.Fprintf(os.Stderr, "composecheck: %v\n", err)
			os.Exit(2)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		o.hc.Transport = tr
	}
	o.c = client.New(o.url, client.WithHTTPClient(o.hc))
	run := map[string]func(context.Context, opts) error{
		"ready": ready, "load": load, "pick": pick, "queries": queries,
		"write": write, "healed": healed, "count": count, "jsinfo": jsinfo, "freeport": freeport,
	}[cmd]
	if run == nil {
		fmt.Fprintf(os.Stderr, "composecheck: unknown command %q\n", cmd)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "composecheck %s: FAIL: %v\n", cmd, err)
		os.Exit(1)
	}
}

type opts struct {
	url, index, expect, prefix, without, nats string
	creds, ca                                 string
	nodes, shards, replicas, n, want          int
	dur, timeout                              time.Duration
	c                                         *client.Client
	hc                                        *http.Client
}

// waitFor calls cond every 250ms until it holds or limit passes.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func() (bool, string)) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		ok, state := cond()
		if ok {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("%s: not after %v; last state: %s", what, limit, state)
		case <-t.C:
		}
	}
}

func (o opts) get(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := o.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// freeport prints a TCP port on 127.0.0.1 that was free a moment ago.
func freeport(context.Context, opts) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}
