package broker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestInitAuthOnce: an auth directory is made once, whole, even by several
// processes at once; later calls use it as it is.
func TestInitAuthOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := InitAuth(dir)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if c {
				created++
			}
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d callers made the directory, want 1", created)
	}
	conf, err := os.ReadFile(AuthConf(dir))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := InitAuth(dir); c || err != nil {
		t.Fatalf("InitAuth on a made directory: created %v, %v", c, err)
	}
	again, _ := os.ReadFile(AuthConf(dir))
	if string(again) != string(conf) {
		t.Fatal("auth.conf changed")
	}
	for _, f := range []string{accountSeedFile, operatorSeedFile, routePasswordFile, "admin.creds", "coordinator.creds"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("left beside the directory: %v", entries)
	}
}

// TestCredentialsRoundTrip: credentials written to a file read back with
// their role and node; a node name that is not one is refused.
func TestCredentialsRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	if _, err := InitAuth(dir); err != nil {
		t.Fatal(err)
	}
	is, err := OpenIssuer(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		role       Role
		node, want string
	}{
		{RoleSearcher, "s-1_A", "searcher-s-1_A.creds"},
		{RoleCoordinator, "", "coordinator.creds"},
		{RoleAdmin, "", "admin.creds"},
	}
	for _, tc := range tests {
		path, err := is.WriteCredentials(tc.role, tc.node)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(path) != tc.want {
			t.Errorf("%s %s written to %s, want %s", tc.role, tc.node, path, tc.want)
		}
		c, err := LoadCredentials(path)
		if err != nil {
			t.Fatal(err)
		}
		if c.Role != tc.role || c.Node != tc.node {
			t.Errorf("read back %s %q, want %s %q", c.Role, c.Node, tc.role, tc.node)
		}
	}
	for _, bad := range []string{"", "a.b", "a>", "*", "a b"} {
		if _, err := is.Issue(RoleSearcher, bad); err == nil {
			t.Errorf("searcher credentials for node %q", bad)
		}
	}
}

// TestOfficialServerConfig: nats-server.conf, as the official nats-server
// reads it (its own configuration parser), trusts the same accounts: it
// refuses anonymous clients and enforces the permissions the credentials
// carry.
func TestOfficialServerConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	if _, err := InitAuth(dir); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, serverConfFile))
	if err != nil {
		t.Fatal(err)
	}
	opts.Port, opts.StoreDir, opts.NoLog, opts.NoSigs = -1, t.TempDir(), true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("not ready")
	}
	if _, err := nats.Connect(ns.ClientURL()); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Fatalf("anonymous client: %v, want an authorization violation", err)
	}
	creds, err := LoadCredentials(CredentialsPath(dir, RoleCoordinator, ""))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	nc, err := nats.Connect(ns.ClientURL(), append(creds.Options(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := nc.RequestWithContext(ctx, "$JS.API.INFO", nil); err != nil {
		t.Fatalf("JetStream for the Shoal account: %v", err)
	}
	if err := nc.Publish("$KV.shoal_nodes.fake", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), `Permissions Violation for Publish to "$KV.shoal_nodes.fake"`) {
			t.Fatalf("async error %v", err)
		}
	case <-ctx.Done():
		t.Fatal("a coordinator published a heartbeat")
	}
}
