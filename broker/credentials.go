package broker

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
)

// Credentials are one NATS identity: a user JWT signed by the Shoal
// account, carrying the identity's permissions, and the user's nkey seed,
// which proves the identity when connecting. They are what a .creds file
// holds.
type Credentials struct {
	// Role is the identity's role; Node names the searcher of a
	// RoleSearcher identity. Both are "" for credentials Shoal did not
	// issue (made with nsc, say).
	Role Role
	Node string
	jwt  string
	seed []byte
}

// userName is the name a user JWT carries: the role, and for a searcher
// its node ("searcher:s1"). ParseCredentials reads it back.
func userName(role Role, node string) string {
	if role == RoleSearcher {
		return string(role) + ":" + node
	}
	return string(role)
}

// ParseCredentials reads credentials in the .creds format.
func ParseCredentials(data []byte) (*Credentials, error) {
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	claims, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return nil, fmt.Errorf("credentials: user JWT: %w", err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(data)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if pub, err := kp.PublicKey(); err != nil || pub != claims.Subject {
		return nil, errors.New("credentials: the seed does not belong to the JWT's user")
	}
	c := &Credentials{jwt: token, seed: seed}
	name, node, _ := strings.Cut(claims.Name, ":")
	if role, err := ParseRole(name); err == nil {
		c.Role, c.Node = role, node
	}
	return c, nil
}

// LoadCredentials reads a .creds file.
func LoadCredentials(path string) (*Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	c, err := ParseCredentials(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// File returns the credentials in the .creds format (the JWT and the
// seed), as nats.UserCredentials and the nats CLI read them.
func (c *Credentials) File() ([]byte, error) {
	return jwt.FormatUserConfig(c.jwt, c.seed)
}

// Options are the connect options that present the credentials, with the
// role's inbox prefix (its replies arrive where its permissions let it
// subscribe).
func (c *Credentials) Options() []nats.Option {
	opts := []nats.Option{nats.UserJWTAndSeed(c.jwt, string(c.seed))}
	if p := inboxPrefix(c.Role, c.Node); p != "" {
		opts = append(opts, nats.CustomInboxPrefix(p))
	}
	return opts
}
