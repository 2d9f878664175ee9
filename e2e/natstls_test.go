package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shoal-search/shoal/broker"
)

// TestTLSEndToEnd: a whole cluster with credentials and TLS (the broker's
// client port, and the coordinator's HTTPS API) indexes, searches and
// reads documents; nothing on either port is spoken in clear text, and a
// client that cannot verify the certificates gets nowhere.
func TestTLSEndToEnd(t *testing.T) {
	skipShort(t)
	c := StartCluster(t, shoalBin, Options{Searchers: 2, HealAfter: -1, TLS: true})
	if !strings.HasPrefix(c.URL, "https://") {
		t.Fatalf("API at %s, want https", c.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const index, docs = "tls", 100
	createIndex(ctx, t, c.Client, index, 4, 2)
	var body strings.Builder
	for i := range docs {
		fmt.Fprintf(&body, `{"id":"d%d","title":"encrypted document %d"}`+"\n", i, i)
	}
	if res, err := c.Client.Bulk(ctx, index, []byte(body.String()), true); err != nil || res.Indexed != docs {
		t.Fatalf("bulk over HTTPS: %+v %v", res, err)
	}
	c.WaitReady(ctx, t)
	r := search(ctx, c.Client, index, "encrypted", 5*time.Second, false)
	if r.err != nil || r.res.TotalHits != docs || r.res.Partial {
		t.Fatalf("search over HTTPS and TLS NATS: %+v %v", r.res, r.err)
	}
	if doc, err := c.Client.GetDoc(ctx, index, "d7"); err != nil || !strings.Contains(string(doc), "encrypted document 7") {
		t.Fatalf("get d7: %s %v", doc, err)
	}

	t.Run("NATSRefusesClearText", func(t *testing.T) {
		natsClearText(t, c)
	})
	t.Run("NATSClientVerifiesTheBroker", func(t *testing.T) {
		// Valid credentials, but no CA to verify the broker with.
		creds, err := broker.LoadCredentials(c.CredsFile(broker.RoleAdmin, ""))
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(c.NATSURL, append(creds.Options(), nats.Timeout(5*time.Second))...)
		if err == nil {
			nc.Close()
			t.Fatal("connected without verifying the broker's certificate")
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("connect without the CA: %v, want a certificate error", err)
		}
	})
	t.Run("HTTPS", func(t *testing.T) {
		plain := &http.Client{Timeout: 5 * time.Second}
		if resp, err := plain.Get(strings.Replace(c.URL, "https://", "http://", 1) + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatal("the API answered clear-text HTTP")
			}
		}
		_, err := plain.Get(c.URL + "/healthz")
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("HTTPS without the CA: %v, want a certificate error", err)
		}
	})
}

// natsClearText speaks the NATS protocol in clear text to the broker: it
// announces that TLS is required and refuses the client.
func natsClearText(t *testing.T, c *Cluster) {
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(c.NATSURL, "nats://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(conn)
	info, err := rd.ReadString('\n')
	if err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("INFO %q (%v): want tls_required", info, err)
	}
	if _, err := conn.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	line, _ := rd.ReadString('\n')
	if strings.HasPrefix(line, "PONG") || strings.HasPrefix(line, "+OK") {
		t.Fatalf("the broker answered a clear-text client: %q", line)
	}
	t.Logf("clear-text client: %q", strings.TrimSpace(line))
}
