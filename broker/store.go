package broker

import (
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"
)

// storeKey returns the public key of the STORE account that dir's
// auth.conf preloads ("" for a directory made before there was one).
func storeKey(dir string) (string, error) {
	m, err := conf.ParseFile(AuthConf(dir))
	if err != nil {
		return "", fmt.Errorf("broker: auth: %w", err)
	}
	preload, _ := m["resolver_preload"].(map[string]any)
	for pub, v := range preload {
		token, _ := v.(string)
		if ac, err := jwt.DecodeAccountClaims(token); err == nil && ac.Name == storeAccount {
			return pub, nil
		}
	}
	return "", nil
}

// storeReadyTimeout bounds the wait for the STORE account's JetStream.
const storeReadyTimeout = 30 * time.Second

// waitStore loads the STORE account of dir into ns and waits until its
// JetStream is on. The server loads an account when a client first needs
// it; STORE, which no client logs into, would be loaded by the first
// request crossing an import, and a request arriving while its JetStream
// was still being enabled was answered "jetstream not enabled" or not at
// all. Loading it before any client comes closes that window.
func waitStore(ns *server.Server, dir string) error {
	pub, err := storeKey(dir)
	if err != nil || pub == "" {
		return err
	}
	acc, err := ns.LookupAccount(pub)
	if err != nil {
		return fmt.Errorf("broker: account %s: %w", storeAccount, err)
	}
	deadline := time.Now().Add(storeReadyTimeout)
	for !acc.JetStreamEnabled() {
		if time.Now().After(deadline) {
			return fmt.Errorf("broker: account %s: JetStream not enabled after %v", storeAccount, storeReadyTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
