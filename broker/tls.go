package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
)

// TLSFiles name a certificate, its key and the CA that signs the
// certificates of the cluster, all PEM files.
type TLSFiles struct {
	Cert, Key, CA string
}

// Enabled reports whether a certificate is given.
func (f TLSFiles) Enabled() bool { return f.Cert != "" || f.Key != "" }

// certificate loads the certificate and its key.
func (f TLSFiles) certificate() (tls.Certificate, error) {
	if f.Cert == "" || f.Key == "" {
		return tls.Certificate{}, errors.New("tls: both a certificate and its key are needed")
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: %w", err)
	}
	return cert, nil
}

// pool loads the CA file.
func (f TLSFiles) pool() (*x509.CertPool, error) {
	b, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("tls: CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("tls: CA %s holds no PEM certificate", f.CA)
	}
	return pool, nil
}

// ServerConfig is the TLS configuration of a server presenting the
// certificate: a broker's client port, or the coordinator's HTTP listener.
func (f TLSFiles) ServerConfig() (*tls.Config, error) {
	cert, err := f.certificate()
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// ClientConfig is the TLS configuration of a client that verifies servers
// against the CA: the shoal CLI talking to an https:// coordinator.
func (f TLSFiles) ClientConfig() (*tls.Config, error) {
	pool, err := f.pool()
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// routeConfig is the TLS configuration of cluster routes: every broker is
// server and client of the others, and each side verifies the other's
// certificate against the CA, so only holders of a certificate the CA
// signed can join the cluster.
func (f TLSFiles) routeConfig() (*tls.Config, error) {
	if f.CA == "" {
		return nil, errors.New("tls: cluster routes need the CA (--tls-ca) to verify the other brokers")
	}
	tc, err := f.ServerConfig()
	if err != nil {
		return nil, err
	}
	pool, err := f.pool()
	if err != nil {
		return nil, err
	}
	tc.RootCAs, tc.ClientCAs = pool, pool
	tc.ClientAuth = tls.RequireAndVerifyClientCert
	return tc, nil
}

// ClientTLS is the connect option that makes a client require TLS and
// verify the broker's certificate, and its host name, against the CA file
// caFile. (Without it, a client still speaks TLS to a broker that requires
// it, and verifies the broker against the system's roots.)
func ClientTLS(caFile string) nats.Option { return nats.RootCAs(caFile) }
