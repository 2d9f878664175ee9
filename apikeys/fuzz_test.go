package apikeys

import (
	"strings"
	"testing"
)

// FuzzParse checks that Parse accepts exactly the keys newKey makes: what
// it accepts splits back into the same string, with an id of hex digits.
func FuzzParse(f *testing.F) {
	key, _, _, err := newKey()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(key)
	f.Add("shoal_0123456789abcdef_" + strings.Repeat("A", secretLen))
	f.Add("shoal_0123456789ABCDEF_" + strings.Repeat("A", secretLen))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, ok := Parse(s)
		if !ok {
			if id != "" || secret != "" {
				t.Fatalf("a refused key gave %q, %q", id, secret)
			}
			return
		}
		if prefix+id+"_"+secret != s || len(id) != idLen || len(secret) != secretLen {
			t.Fatalf("Parse(%q) = %q, %q", s, id, secret)
		}
		if strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not lower-case hex", id)
		}
	})
}

func TestNewKeysParse(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		key, id, hash, err := newKey()
		if err != nil {
			t.Fatal(err)
		}
		gotID, secret, ok := Parse(key)
		if !ok || gotID != id || !hashMatches(secret, hash) || seen[key] {
			t.Fatalf("key %q: parse %q %v, hash match %v, seen %v", key, gotID, ok, hashMatches(secret, hash), seen[key])
		}
		seen[key] = true
	}
}
