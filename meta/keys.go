package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketKeys maps an API key's id to its KeyRecord: its scope and the hash
// of its secret, never the secret. Only coordinators read it.
const BucketKeys = "shoal_keys"

// Actions an API key may be granted.
const (
	// ActionSearch is searching an index and reading its description.
	ActionSearch = "search"
	// ActionGet is reading stored documents by id.
	ActionGet = "get"
	// ActionWrite is indexing and deleting documents.
	ActionWrite = "write"
	// ActionAdmin is creating and deleting indexes and reading the
	// cluster's state.
	ActionAdmin = "admin"
)

// Actions lists every action, in the order the API documents them.
var Actions = []string{ActionSearch, ActionGet, ActionWrite, ActionAdmin}

// Limits on a key's definition, checked by KeyRecord.Validate.
const (
	// MaxKeyIndexes is the most index names or prefixes one key may name.
	MaxKeyIndexes = 256
	// MaxKeyDescription is the longest description, in bytes.
	MaxKeyDescription = 256
)

// KeyRecord is an API key as stored in BucketKeys under its ID. The key
// itself is shown once, when it is created; only the SHA-256 of its secret
// is kept.
type KeyRecord struct {
	ID string `json:"id"`
	// Hash is the hex SHA-256 of the key's secret part.
	Hash        string `json:"hash"`
	Description string `json:"description,omitempty"`
	// Actions are the actions the key may perform.
	Actions []string `json:"actions"`
	// Indexes are index names, or prefixes ending in '*' ("logs-*"), the
	// key may act on; "*" alone is every index.
	Indexes []string `json:"indexes"`
	// ExpiresAt, when set, is when the key stops working.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Rate, when positive, is the requests per second the key may make.
	Rate    float64   `json:"rate,omitempty"`
	Created time.Time `json:"created"`
}

var keyIDRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// ErrInvalidKey is matched by errors.Is for every error KeyRecord.Validate
// returns.
var ErrInvalidKey = errors.New("invalid key definition")

// ValidKeyID reports whether id can be the id of a key: 16 lower-case hex
// digits.
func ValidKeyID(id string) error {
	if !keyIDRE.MatchString(id) {
		return fmt.Errorf("%w: key id %q is not 16 hex digits", ErrInvalidKey, id)
	}
	return nil
}

// Validate checks the key's scope: known actions, at least one; index
// names or prefixes that could name an index, at least one; a positive
// rate if any.
func (k *KeyRecord) Validate() error {
	if len(k.Actions) == 0 {
		return fmt.Errorf("%w: actions must name at least one of %s", ErrInvalidKey, strings.Join(Actions, ", "))
	}
	for _, a := range k.Actions {
		if !isAction(a) {
			return fmt.Errorf("%w: unknown action %q (use %s)", ErrInvalidKey, a, strings.Join(Actions, ", "))
		}
	}
	if len(k.Indexes) == 0 || len(k.Indexes) > MaxKeyIndexes {
		return fmt.Errorf(`%w: indexes must name 1 to %d indexes or prefixes ("*" for all)`, ErrInvalidKey, MaxKeyIndexes)
	}
	for _, p := range k.Indexes {
		if err := validIndexPattern(p); err != nil {
			return err
		}
	}
	if k.Rate < 0 {
		return fmt.Errorf("%w: rate must not be negative", ErrInvalidKey)
	}
	if len(k.Description) > MaxKeyDescription {
		return fmt.Errorf("%w: description is longer than %d bytes", ErrInvalidKey, MaxKeyDescription)
	}
	return nil
}

func isAction(a string) bool {
	for _, known := range Actions {
		if a == known {
			return true
		}
	}
	return false
}

// validIndexPattern accepts an index name, "*", or a prefix of an index
// name followed by '*'.
func validIndexPattern(p string) error {
	if p == "*" {
		return nil
	}
	name := strings.TrimSuffix(p, "*")
	if strings.HasSuffix(p, "*") {
		name += "x" // a prefix needs only to start a valid name
	}
	if strings.Contains(name, "*") || ValidIndexName(name) != nil {
		return fmt.Errorf(`%w: %q is neither an index name nor a prefix such as "logs-*"`, ErrInvalidKey, p)
	}
	return nil
}

// Allows reports whether the key grants action on index. An empty index
// asks for an action that concerns no single index (listing them), which
// any key with the action may ask.
func (k *KeyRecord) Allows(action, index string) bool {
	if !k.Can(action) {
		return false
	}
	return index == "" || k.Covers(index)
}

// Can reports whether the key grants action on some index.
func (k *KeyRecord) Can(action string) bool {
	for _, a := range k.Actions {
		if a == action {
			return true
		}
	}
	return false
}

// Covers reports whether one of the key's index names or prefixes matches
// index.
func (k *KeyRecord) Covers(index string) bool {
	for _, p := range k.Indexes {
		if p == "*" || p == index || (strings.HasSuffix(p, "*") && strings.HasPrefix(index, p[:len(p)-1])) {
			return true
		}
	}
	return false
}

// Expired reports whether the key has expired at now.
func (k *KeyRecord) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// DecodeKeyRecord decodes an entry of BucketKeys.
func DecodeKeyRecord(raw []byte) (*KeyRecord, error) {
	var k KeyRecord
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("meta: key record: %w", err)
	}
	return &k, nil
}

// OpenKeyBucket creates (or opens) BucketKeys with replicas copies.
func OpenKeyBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	if kv, err := js.KeyValue(ctx, BucketKeys); err == nil {
		return kv, nil
	}
	// Create, never update: a coordinator may not reconfigure the bucket
	// (broker/permissions.go); one made meanwhile is opened as it is.
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketKeys, History: 1, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, BucketKeys)
	}
	if err != nil {
		return nil, fmt.Errorf("meta: bucket %s: %w", BucketKeys, err)
	}
	return kv, nil
}
