package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/broker"
)

// This file holds the harness's security: every cluster runs closed, as a
// user's would. The credentials are made with `shoal creds` (the binary
// under test), the broker runs with --auth-dir, each searcher with its own
// --creds and the coordinator with the coordinators'. With Options.TLS
// the broker's client port and the coordinator's HTTP API speak TLS with
// certificates made for the test, and every client verifies them against
// the test's CA.

// secure makes the cluster's credentials (for the searcher nodes named)
// and, with withTLS, its certificates.
func (c *Cluster) secure(t testing.TB, withTLS bool, nodes []string) {
	t.Helper()
	c.AuthDir = filepath.Join(c.Dir, "auth")
	c.MakeCreds(t, broker.RoleSearcher, nodes...)
	if !withTLS {
		return
	}
	var err error
	if c.TLS, err = broker.WriteCerts(filepath.Join(c.Dir, "tls"), []string{"127.0.0.1", "localhost"}); err != nil {
		t.Fatal(err)
	}
	tc, err := c.TLS.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	c.HTTP = &http.Client{Timeout: 30 * time.Second, Transport: tr}
}

// MakeCreds makes credentials for role (for each searcher node named, for
// a searcher) with `shoal creds`, which also makes the auth directory the
// first time, and returns the file of the last.
func (c *Cluster) MakeCreds(t testing.TB, role broker.Role, nodes ...string) string {
	t.Helper()
	args := append([]string{"creds", "--auth-dir", c.AuthDir, "--role", string(role)}, nodes...)
	if out, err := exec.Command(c.bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("shoal %v: %v\n%s", args, err, out)
	}
	node := ""
	if len(nodes) > 0 {
		node = nodes[len(nodes)-1]
	}
	return c.CredsFile(role, node)
}

// CredsFile is the credentials file of role (and node, for a searcher) in
// the cluster's auth directory.
func (c *Cluster) CredsFile(role broker.Role, node string) string {
	return broker.CredentialsPath(c.AuthDir, role, node)
}

// brokerProc describes the broker listening on port: `shoal broker` with
// the auth directory (and the certificates), or, given natsServer, that
// official nats-server binary with a configuration that includes the auth
// directory's auth.conf, as README, Security: NATS, closed by default shows.
func (c *Cluster) brokerProc(t testing.TB, natsServer string, port int) *Proc {
	t.Helper()
	data := filepath.Join(c.Dir, "broker")
	if natsServer != "" {
		if c.TLS.Enabled() {
			t.Fatal("harness: the official nats-server runs without TLS here")
		}
		// An include is read relative to the including file.
		conf := filepath.Join(c.AuthDir, "e2e-nats-server.conf")
		text := fmt.Sprintf("server_name: b1\nlisten: \"127.0.0.1:%d\"\ninclude \"auth.conf\"\njetstream {\n  store_dir: %q\n}\n", port, data)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return newProc(natsServer, c.Dir, "broker", "-c", conf)
	}
	args := []string{"broker", "--listen", "127.0.0.1:" + strconv.Itoa(port), "--data", data, "--name", "b1", "--auth-dir", c.AuthDir}
	if c.TLS.Enabled() {
		args = append(args, "--tls-cert", c.TLS.Cert, "--tls-key", c.TLS.Key, "--tls-ca", c.TLS.CA)
	}
	return newProc(c.bin, c.Dir, "broker", args...)
}

// roleArgs are the security flags of a searcher (node) or the coordinator
// (node ""): its credentials, and the CA to verify the broker with.
func (c *Cluster) roleArgs(node string) []string {
	role := broker.RoleCoordinator
	if node != "" {
		role = broker.RoleSearcher
	}
	args := []string{"--creds", c.CredsFile(role, node)}
	if c.TLS.Enabled() {
		args = append(args, "--tls-ca", c.TLS.CA)
		if node == "" { // the coordinator's HTTP API
			args = append(args, "--tls-cert", c.TLS.Cert, "--tls-key", c.TLS.Key)
		}
	}
	return args
}

// scheme is the URL scheme of the coordinator's API.
func (c *Cluster) scheme() string {
	if c.TLS.Enabled() {
		return "https"
	}
	return "http"
}

// NATSOptions are the connect options of a test client: the credentials
// file creds ("" for none) with its role's inbox prefix, as the shoal
// processes connect, and on a TLS cluster the test's CA.
func (c *Cluster) NATSOptions(t testing.TB, creds string) []nats.Option {
	t.Helper()
	opts := []nats.Option{nats.Timeout(5 * time.Second)}
	if creds != "" {
		cr, err := broker.LoadCredentials(creds)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, cr.Options()...)
	}
	if c.TLS.Enabled() {
		opts = append(opts, broker.ClientTLS(c.TLS.CA))
	}
	return opts
}

// checkNoRefusals fails t if the broker's log names a violation: a Shoal
// process refused a connection, a publish or a subscription. Each role's
// permissions must cover everything it does, shutting down included; a
// refused request only times out on the client's side (a refused consumer
// delete once held every stopping searcher for 5 s), so the broker's log
// is where a missing permission shows.
func (c *Cluster) checkNoRefusals(t testing.TB) {
	t.Helper()
	f, err := os.Open(c.Broker.log)
	if err != nil {
		t.Errorf("broker log: %v", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var found []string
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Violation") && len(found) < 10 {
			found = append(found, sc.Text())
		}
	}
	if len(found) > 0 {
		t.Errorf("the broker refused the cluster's own processes:\n%s", strings.Join(found, "\n"))
	}
}
