package broker

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Shoal secures NATS with NATS's own decentralized authentication: an
// operator, accounts and user JWTs, rather than nkeys listed in the server
// configuration. The deciding reason is that searcher nodes come and go
// and each needs an identity of its own (it may subscribe only to its own
// node's requests and write only its own heartbeat): a user JWT is signed
// offline with the account's key, so a new node's credentials are made
// (`shoal creds NODE`) without touching, reloading or restarting any
// broker, and the permissions travel inside the credentials. The brokers
// only trust the operator and know the accounts (auth.conf); the official
// nats-server includes the very same file.
//
// An auth directory holds:
//
//	auth.conf         operator JWT, system account, the STORE and SHOAL accounts (for every broker)
//	route.password    the password brokers present to each other on cluster routes
//	operator.nk       the operator's seed: re-signs accounts (keep it offline)
//	account.nk        the SHOAL account's seed: signs user credentials (keep it off brokers)
//	admin.creds       credentials of the admin identity (may do anything)
//	coordinator.creds credentials shared by the coordinators
//	searcher-NODE.creds credentials of searcher NODE (made by Issuer.WriteCredentials)
//	nats-server.conf  a starting point for running the official nats-server
//
// Secrets are written with mode 0600 in a directory of mode 0700.
const (
	authConfFile      = "auth.conf"
	routePasswordFile = "route.password"
	operatorSeedFile  = "operator.nk"
	accountSeedFile   = "account.nk"
	serverConfFile    = "nats-server.conf"
)

// RouteUser is the user name brokers present on cluster routes.
const RouteUser = "shoal-route"

// AuthConf is the path of dir's auth.conf, which a nats-server
// configuration includes.
func AuthConf(dir string) string { return filepath.Join(dir, authConfFile) }

// CredentialsPath is where an auth directory keeps the credentials of an
// identity: admin.creds, coordinator.creds or searcher-NODE.creds.
func CredentialsPath(dir string, role Role, node string) string {
	if role == RoleSearcher {
		return filepath.Join(dir, "searcher-"+node+".creds")
	}
	return filepath.Join(dir, string(role)+".creds")
}

// InitAuth makes an auth directory at dir unless one is there: a new
// operator, system account, STORE and SHOAL accounts (accounts.go), a
// route password, and the admin and coordinator credentials. It reports whether it made one. The
// directory appears whole or not at all: it is written beside dir and
// renamed into place, so two processes making it at once agree on one.
func InitAuth(dir string) (created bool, err error) {
	if _, err := os.Stat(AuthConf(dir)); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("auth: %w", err)
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return false, fmt.Errorf("auth: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".auth-")
	if err != nil {
		return false, fmt.Errorf("auth: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := writeAuth(tmp); err != nil {
		return false, fmt.Errorf("auth: %w", err)
	}
	// rename(2) replaces an empty directory; one that is not empty stays,
	// and if it holds a complete auth directory, that one is used.
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(AuthConf(dir)); serr == nil {
			return false, nil
		}
		return false, fmt.Errorf("auth: %s exists and holds no auth.conf: %w", dir, err)
	}
	return true, nil
}

// writeAuth writes a new auth directory's files into dir.
func writeAuth(dir string) error {
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	op, err := nkeys.CreateOperator()
	if err != nil {
		return err
	}
	sys, err := nkeys.CreateAccount()
	if err != nil {
		return err
	}
	acct, err := nkeys.CreateAccount()
	if err != nil {
		return err
	}
	store, err := nkeys.CreateAccount()
	if err != nil {
		return err
	}
	conf, err := authConf(op, sys, store, acct)
	if err != nil {
		return err
	}
	var pw [24]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return err
	}
	password := base64.RawURLEncoding.EncodeToString(pw[:])
	files := []struct {
		name string
		data func() ([]byte, error)
	}{
		{operatorSeedFile, op.Seed},
		{accountSeedFile, acct.Seed},
		{routePasswordFile, func() ([]byte, error) { return []byte(password + "\n"), nil }},
		{authConfFile, func() ([]byte, error) { return conf, nil }},
		{serverConfFile, func() ([]byte, error) { return []byte(serverConf(password)), nil }},
	}
	for _, f := range files {
		data, err := f.data()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), data, 0o600); err != nil {
			return err
		}
	}
	is := &Issuer{dir: dir, account: acct}
	for _, role := range []Role{RoleAdmin, RoleCoordinator} {
		if _, err := is.WriteCredentials(role, ""); err != nil {
			return err
		}
	}
	return nil
}

// authConf returns auth.conf: the operator (signed by itself), the system
// account, the STORE account with JetStream and the SHOAL account of every
// identity, which reaches STORE's streams through imports (accounts.go),
// all signed by the operator and preloaded into a memory resolver.
func authConf(op, sys, store, acct nkeys.KeyPair) ([]byte, error) {
	opPub, _ := op.PublicKey()
	sysPub, _ := sys.PublicKey()
	storePub, _ := store.PublicKey()
	acctPub, _ := acct.PublicKey()
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "shoal"
	oc.SystemAccount = sysPub
	opJWT, err := oc.Encode(op)
	if err != nil {
		return nil, err
	}
	sc := jwt.NewAccountClaims(sysPub)
	sc.Name = "SYS"
	sysJWT, err := sc.Encode(op)
	if err != nil {
		return nil, err
	}
	storeJWT, acctJWT, err := accountJWTs(op, store, acct)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("# Shoal's NATS operator and accounts, made by `shoal creds` or `shoal broker --auth-dir`.\n")
	b.WriteString("# Every broker of a cluster loads this same file; an official nats-server includes it\n")
	b.WriteString("# (include \"auth.conf\"). Users carry their permissions in their signed credentials,\n")
	b.WriteString("# so none are listed here: new credentials need no change to this file.\n")
	b.WriteString("# STORE holds the streams and buckets and has no users; SHOAL, the account of every\n")
	b.WriteString("# identity, reaches them through imports (see README, Limits of what this closes).\n")
	fmt.Fprintf(&b, "operator: %q\n", opJWT)
	fmt.Fprintf(&b, "system_account: %q\n", sysPub)
	b.WriteString("resolver: MEMORY\n")
	b.WriteString("resolver_preload: {\n")
	fmt.Fprintf(&b, "  # SYS\n  %q: %q\n", sysPub, sysJWT)
	fmt.Fprintf(&b, "  # STORE\n  %q: %q\n", storePub, storeJWT)
	fmt.Fprintf(&b, "  # SHOAL\n  %q: %q\n", acctPub, acctJWT)
	b.WriteString("}\n")
	return []byte(b.String()), nil
}

// serverConf is nats-server.conf, the official nats-server's configuration
// with the accounts of this directory; the commented parts turn on TLS and
// a three-node cluster as `shoal broker` does.
func serverConf(routePassword string) string {
	return `# The official nats-server with Shoal's accounts: nats-server -c nats-server.conf
# The same operator, accounts and permissions as 'shoal broker --auth-dir'
# (see README, Security: NATS, closed by default). Adjust names, addresses and paths.
server_name: b1
listen: 127.0.0.1:4222
include "auth.conf"
jetstream {
  store_dir: "./nats-data"
}
# TLS for clients (they verify the server with the CA):
# tls {
#   cert_file: "tls/server.pem"
#   key_file: "tls/server-key.pem"
#   ca_file: "tls/ca.pem"
#   timeout: 2
# }
# A JetStream cluster: routes authenticate with the route password and,
# with a tls block, with certificates both ways.
# cluster {
#   name: shoal
#   listen: 0.0.0.0:6222
#   authorization { user: ` + RouteUser + `, password: "` + routePassword + `" }
#   routes: [
#     "nats://` + RouteUser + `:` + routePassword + `@b2:6222"
#     "nats://` + RouteUser + `:` + routePassword + `@b3:6222"
#   ]
#   tls { cert_file: "tls/server.pem", key_file: "tls/server-key.pem", ca_file: "tls/ca.pem", timeout: 2 }
# }
`
}

// routePassword reads dir's route password.
func routePassword(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, routePasswordFile))
	if err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Issuer signs user credentials with the Shoal account's key.
type Issuer struct {
	dir     string
	account nkeys.KeyPair
}

// OpenIssuer reads the account key of the auth directory dir.
func OpenIssuer(dir string) (*Issuer, error) {
	b, err := os.ReadFile(filepath.Join(dir, accountSeedFile))
	if err != nil {
		return nil, fmt.Errorf("auth: the account key signs credentials: %w", err)
	}
	kp, err := nkeys.FromSeed(b)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", accountSeedFile, err)
	}
	if pub, _ := kp.PublicKey(); !nkeys.IsValidPublicAccountKey(pub) {
		return nil, fmt.Errorf("auth: %s holds no account key", accountSeedFile)
	}
	return &Issuer{dir: dir, account: kp}, nil
}

// Issue signs new credentials for role (and node, for a searcher).
func (is *Issuer) Issue(role Role, node string) (*Credentials, error) {
	perms, err := Permissions(role, node)
	if err != nil {
		return nil, err
	}
	user, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	uc := jwt.NewUserClaims(pub)
	uc.Name = userName(role, node)
	uc.Permissions = perms
	token, err := uc.Encode(is.account)
	if err != nil {
		return nil, fmt.Errorf("auth: sign %s: %w", uc.Name, err)
	}
	if role != RoleSearcher {
		node = ""
	}
	return &Credentials{Role: role, Node: node, jwt: token, seed: seed}, nil
}

// WriteCredentials issues credentials for role (and node) and writes them
// to CredentialsPath, replacing a file there. Credentials issued before
// stay valid.
func (is *Issuer) WriteCredentials(role Role, node string) (string, error) {
	c, err := is.Issue(role, node)
	if err != nil {
		return "", err
	}
	data, err := c.File()
	if err != nil {
		return "", err
	}
	path := CredentialsPath(is.dir, role, node)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("auth: %w", err)
	}
	return path, nil
}
