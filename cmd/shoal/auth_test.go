package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-search/shoal/broker"
)

// runCmd runs the shoal command line args and returns its output and
// error. Its context has ended, so a command that serves returns at once.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	root := newRootCmd()
	var out strings.Builder
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// TestCredsCommand: `shoal creds` makes the accounts once and credentials
// of each role; bad requests are refused with a message and a non-zero
// exit.
func TestCredsCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	tests := []struct {
		name    string
		args    []string
		files   []string // made by the command
		wantErr string
	}{
		{"searchers", []string{"s1", "s2"}, []string{"auth.conf", "coordinator.creds", "admin.creds", "searcher-s1.creds", "searcher-s2.creds"}, ""},
		{"coordinator", []string{"--role", "coordinator"}, []string{"coordinator.creds"}, ""},
		{"no node", nil, nil, "name the searcher nodes"},
		{"node of a coordinator", []string{"--role", "coordinator", "s1"}, nil, "node names are for searcher"},
		{"bad role", []string{"--role", "root"}, nil, "unknown role"},
		{"bad node", []string{"a.b"}, nil, "invalid node name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCmd(t, append([]string{"creds", "--auth-dir", dir}, tc.args...)...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || exitCode(err) == 0 {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestCheckCreds: a searcher or coordinator refuses credentials Shoal made
// for another role or node, naming both.
func TestCheckCreds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	if _, err := runCmd(t, "creds", "--auth-dir", dir, "s1"); err != nil {
		t.Fatal(err)
	}
	load := func(role broker.Role, node string) *broker.Credentials {
		c, err := broker.LoadCredentials(broker.CredentialsPath(dir, role, node))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name    string
		creds   *broker.Credentials
		role    broker.Role
		node    string
		wantErr string
	}{
		{"its own", load(broker.RoleSearcher, "s1"), broker.RoleSearcher, "s1", ""},
		{"none", nil, broker.RoleSearcher, "s1", ""},
		{"another node's", load(broker.RoleSearcher, "s1"), broker.RoleSearcher, "s2", "are for searcher s1, not for searcher s2"},
		{"a coordinator's", load(broker.RoleCoordinator, ""), broker.RoleSearcher, "s1", "are for coordinator, not for searcher s1"},
		{"a searcher's for a coordinator", load(broker.RoleSearcher, "s1"), broker.RoleCoordinator, "", "are for searcher s1, not for coordinator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkCreds(tc.creds, tc.role, tc.node)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestBrokerNeedsAuthDir: the broker does not run open.
func TestBrokerNeedsAuthDir(t *testing.T) {
	_, err := runCmd(t, "broker", "--auth-dir", "", "--data", t.TempDir(), "--listen", "127.0.0.1:-1")
	if err == nil || !strings.Contains(err.Error(), "--auth-dir is required") {
		t.Fatalf("broker without --auth-dir: %v", err)
	}
}

// TestCertsCommand: `shoal certs` writes a CA and a certificate that
// verifies for the hosts named.
func TestCertsCommand(t *testing.T) {
	dir := t.TempDir()
	if _, err := runCmd(t, "certs", "--dir", dir, "--hosts", "b1,10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	f := broker.CertFiles(dir)
	tc, err := f.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := f.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Certificates[0]
	for _, host := range []string{"b1", "10.0.0.1"} {
		if err := verifyFor(tc, leaf.Certificate[0], host); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if err := verifyFor(tc, leaf.Certificate[0], "b2"); err == nil {
		t.Error("the certificate verifies for a host it was not made for")
	}
}

// verifyFor verifies the certificate der for host against tc's roots, as
// a TLS client would.
func verifyFor(tc *tls.Config, der []byte, host string) error {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: tc.RootCAs, DNSName: host})
	return err
}
