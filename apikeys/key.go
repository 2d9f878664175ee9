// Package apikeys holds Shoal's scoped API keys: their form, their creation
// (a random secret shown once, of which only a SHA-256 hash is stored), and
// the Store that keeps them in a JetStream KV bucket and follows it, so that
// a key created or revoked on one coordinator counts on every coordinator
// within moments. Keys are compared in constant time.
//
// The HTTP layer decides what a key may do (web); this package knows what a
// key is.
package apikeys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// A key reads "shoal_<id>_<secret>": the id (16 hex digits) names its record,
// and the secret (32 random bytes, base64url without padding) proves it.
const (
	prefix    = "shoal_"
	idLen     = 16
	secretLen = 43 // base64.RawURLEncoding of 32 bytes
	// keyLen is the length of every key.
	keyLen = len(prefix) + idLen + 1 + secretLen
)

// Parse splits a key into its id and secret; ok is false when key does not
// have the form of a Shoal key.
func Parse(key string) (id, secret string, ok bool) {
	if len(key) != keyLen || !strings.HasPrefix(key, prefix) || key[len(prefix)+idLen] != '_' {
		return "", "", false
	}
	id = key[len(prefix) : len(prefix)+idLen]
	secret = key[len(prefix)+idLen+1:]
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", "", false
		}
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// newKey draws a fresh id and secret and returns the key, its id and the
// hash to store.
func newKey() (key, id, hash string, err error) {
	var raw [8 + 32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", "", err
	}
	id = hex.EncodeToString(raw[:8])
	secret := base64.RawURLEncoding.EncodeToString(raw[8:])
	return prefix + id + "_" + secret, id, hashSecret(secret), nil
}

// hashSecret is the stored form of a secret: its SHA-256, in hex.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Equal reports whether two secrets are equal, in a time that depends on
// neither their contents nor their lengths: both are hashed first.
func Equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// hashMatches reports, in constant time, whether secret hashes to hash.
func hashMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(hash)) == 1
}
