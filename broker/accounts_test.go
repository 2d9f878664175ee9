package broker

import (
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// TestImportsKeepTheirNames: an answer JetStream sends back into SHOAL
// must not travel on into STORE through another import. nats-server
// forwards an answer matched by a wildcard service import kept under its
// own name on the answer's own _R_ subject, where no stream listens; a
// literal import would forward it to its subject (a KV key), which was
// tried against the real server. So every service import is a wildcard
// and keeps its name (broker/reflect_test.go checks the result).
func TestImportsKeepTheirNames(t *testing.T) {
	store, _ := nkeys.CreateAccount()
	shoal, _ := nkeys.CreateAccount()
	storePub, _ := store.PublicKey()
	shoalPub, _ := shoal.PublicKey()
	ac := shoalClaims(shoalPub, storePub)
	if len(ac.Imports) == 0 {
		t.Fatal("SHOAL imports nothing")
	}
	for _, im := range ac.Imports {
		if im.Type != jwt.Service {
			continue
		}
		if !strings.HasSuffix(string(im.Subject), ">") || (im.LocalSubject != "" && string(im.LocalSubject) != string(im.Subject)) {
			t.Errorf("service import %q (local %q): want a wildcard under its own name", im.Subject, im.LocalSubject)
		}
	}
	if ac.Limits.JetStreamLimits.DiskStorage != 0 || ac.Limits.JetStreamLimits.MemoryStorage != 0 {
		t.Error("SHOAL has JetStream of its own")
	}
}
