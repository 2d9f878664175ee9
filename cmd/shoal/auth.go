package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoal-search/shoal/broker"
)

// newCredsCmd is `shoal creds`: the NATS accounts and the credentials of
// every identity, signed offline (no broker is asked or restarted).
func newCredsCmd() *cobra.Command {
	var (
		dir  string
		role string
	)
	cmd := &cobra.Command{
		Use:   "creds [NODE...]",
		Short: "Make the NATS accounts (once) and credentials: a searcher's per NODE, or --role coordinator|admin",
		Long: `Make the NATS operator and accounts in --auth-dir unless they are there (with
admin.creds and coordinator.creds), then credentials for each searcher NODE
(searcher-NODE.creds, usable only by that node), or new credentials for
--role coordinator or admin. Credentials are signed offline with the account
key: brokers need no restart to accept them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := broker.ParseRole(role)
			if err != nil {
				return err
			}
			if r == broker.RoleSearcher && len(args) == 0 {
				return fmt.Errorf("name the searcher nodes to make credentials for (shoal creds NODE...), or pass --role coordinator|admin")
			}
			if r != broker.RoleSearcher && len(args) > 0 {
				return fmt.Errorf("node names are for searcher credentials, not %s", r)
			}
			return makeCreds(cmd.OutOrStdout(), dir, r, args)
		},
	}
	cmd.Flags().StringVar(&dir, "auth-dir", defaultAuthDir, "NATS accounts and credentials (made if missing)")
	cmd.Flags().StringVar(&role, "role", string(broker.RoleSearcher), "role of the credentials: searcher, coordinator or admin")
	bindEnv(cmd)
	return cmd
}

// makeCreds makes the auth directory if needed, then the credentials of
// role (one file per node for searchers), and prints what it wrote.
func makeCreds(out io.Writer, dir string, role broker.Role, nodes []string) error {
	created, err := broker.InitAuth(dir)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(out, "made NATS accounts in %s, with %s and %s\n", dir,
			broker.CredentialsPath(dir, broker.RoleAdmin, ""), broker.CredentialsPath(dir, broker.RoleCoordinator, ""))
	}
	is, err := broker.OpenIssuer(dir)
	if err != nil {
		return err
	}
	if role != broker.RoleSearcher {
		nodes = []string{""}
	}
	for _, node := range nodes {
		path, err := is.WriteCredentials(role, node)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, path)
	}
	return nil
}

// newCertsCmd is `shoal certs`: a private CA and a certificate for the
// brokers and the coordinator, for TLS without any other tool.
func newCertsCmd() *cobra.Command {
	var (
		dir   string
		hosts []string
	)
	cmd := &cobra.Command{
		Use:   "certs --hosts NAME,...",
		Short: "Make a private CA (once) and a TLS certificate for the given host names and IP addresses",
		Long: `Make a private CA in --dir unless one is there (ca.pem, ca-key.pem), and sign
with it a certificate for --hosts (server.pem, server-key.pem), valid for
servers and clients, so brokers can also present it on cluster routes. Give
brokers --tls-cert/--tls-key/--tls-ca, clients --tls-ca.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := broker.WriteCerts(dir, hosts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n%s\n", f.CA, f.Cert, f.Key)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "./shoal-data/tls", "where the CA and the certificate go")
	cmd.Flags().StringSliceVar(&hosts, "hosts", []string{"localhost", "127.0.0.1"}, "DNS names and IP addresses the certificate is for, comma separated")
	bindEnv(cmd)
	return cmd
}

// initAuth makes the broker's auth directory on its first start, and says
// so; a broker without one would admit anybody.
func initAuth(dir string) error {
	if dir == "" {
		return errors.New("--auth-dir is required: the broker admits only clients with credentials from it")
	}
	created, err := broker.InitAuth(dir)
	if err != nil {
		return err
	}
	if created {
		fmt.Printf("made NATS accounts and credentials in %s (admin.creds, coordinator.creds);\n"+
			"  a searcher's: shoal creds --auth-dir %s NODE\n", dir, dir)
	}
	return nil
}

// tlsNote says whether a broker speaks TLS, for its start-up line.
func tlsNote(f broker.TLSFiles) string {
	if f.Enabled() {
		return ", TLS"
	}
	return ""
}

// checkCreds refuses credentials Shoal made for another role or another
// searcher node: the broker would let the process connect and then refuse
// its subscriptions and heartbeats, which is harder to read.
func checkCreds(c *broker.Credentials, role broker.Role, node string) error {
	if c == nil || c.Role == "" || (c.Role == role && c.Node == node) {
		return nil
	}
	want := string(role)
	if role == broker.RoleSearcher {
		want += " " + node + " (make them with: shoal creds " + node + ")"
	}
	return fmt.Errorf("--creds are for %s, not for %s", strings.TrimSpace(string(c.Role)+" "+c.Node), want)
}
