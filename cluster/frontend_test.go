package cluster_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-search/shoal/broker"
	"github.com/shoal-search/shoal/cluster"
	"github.com/shoal-search/shoal/internal/testcluster"
)

// startFrontend starts a frontend on c's broker with options o, logging
// into log.
func startFrontend(t *testing.T, c *cluster.Cluster, o cluster.FrontendOptions, log *syncBuffer) *cluster.Frontend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := broker.Connect(ctx, c.NATSURL(), "frontend-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	o.Logger = slog.New(slog.NewTextHandler(log, nil))
	f, err := cluster.StartFrontend(ctx, nc, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// syncBuffer is a log destination the test reads while the frontend
// writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOpenListenerWarning: a frontend that listens beyond loopback with
// no key says so at startup; on loopback, or with a key, it does not.
func TestOpenListenerWarning(t *testing.T) {
	c := testcluster.Start(t, 1)
	for _, tt := range []struct {
		addr, key string
		warn      bool
	}{
		{"0.0.0.0:0", "", true},
		{"0.0.0.0:0", "master", false},
		{"127.0.0.1:0", "", false},
	} {
		var log syncBuffer
		o := cluster.FrontendOptions{HTTPAddr: tt.addr}
		o.Web.APIKey = tt.key
		startFrontend(t, c, o, &log)
		if got := strings.Contains(log.String(), "SECURITY: the HTTP API listens on"); got != tt.warn {
			t.Errorf("listening on %s with key %q: warned %v, want %v; log:\n%s", tt.addr, tt.key, got, tt.warn, log.String())
		}
	}
}

// TestHTTPS: with a certificate the API is served over TLS only, and says
// so to browsers (HSTS).
func TestHTTPS(t *testing.T) {
	c := testcluster.Start(t, 1)
	certFile, keyFile, pool := selfSigned(t)
	var log syncBuffer
	f := startFrontend(t, c, cluster.FrontendOptions{HTTPAddr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile}, &log)
	if !strings.HasPrefix(f.URL(), "https://") {
		t.Fatalf("URL %s", f.URL())
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(f.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("GET /healthz over HTTPS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	if resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(f.URL() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a client that does not trust the certificate got an answer")
	}
	plain := "http://" + strings.TrimPrefix(f.URL(), "https://")
	if resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(plain + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP was answered on the HTTPS port")
		}
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key,
// and returns their files and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shoal test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}
