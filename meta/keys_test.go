package meta

import (
	"errors"
	"testing"
	"time"
)

func TestKeyScope(t *testing.T) {
	k := KeyRecord{Actions: []string{ActionSearch, ActionGet}, Indexes: []string{"books", "logs-*"}}
	for _, tt := range []struct {
		action, index string
		want          bool
	}{
		{ActionSearch, "books", true},
		{ActionGet, "books", true},
		{ActionWrite, "books", false},
		{ActionAdmin, "books", false},
		{ActionSearch, "books2", false},
		{ActionSearch, "book", false},
		{ActionSearch, "logs-2024", true},
		{ActionSearch, "logs-", true},
		{ActionSearch, "logs", false},
		{ActionSearch, "", true}, // listing: filtered by Covers
		{ActionWrite, "", false},
	} {
		if got := k.Allows(tt.action, tt.index); got != tt.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", tt.action, tt.index, got, tt.want)
		}
	}
	all := KeyRecord{Actions: []string{ActionWrite}, Indexes: []string{"*"}}
	if !all.Allows(ActionWrite, "anything") {
		t.Error(`"*" does not cover every index`)
	}
}

func TestKeyValidate(t *testing.T) {
	ok := []KeyRecord{
		{Actions: []string{ActionSearch}, Indexes: []string{"*"}},
		{Actions: Actions, Indexes: []string{"a", "b-*", "c*"}, Rate: 2.5},
	}
	for _, k := range ok {
		if err := k.Validate(); err != nil {
			t.Errorf("%+v: %v", k, err)
		}
	}
	bad := []KeyRecord{
		{Indexes: []string{"*"}},
		{Actions: []string{"read"}, Indexes: []string{"*"}},
		{Actions: []string{ActionSearch}},
		{Actions: []string{ActionSearch}, Indexes: []string{""}},
		{Actions: []string{ActionSearch}, Indexes: []string{"**"}},
		{Actions: []string{ActionSearch}, Indexes: []string{"-x*"}},
		{Actions: []string{ActionSearch}, Indexes: []string{"UPPER"}},
		{Actions: []string{ActionSearch}, Indexes: []string{"*"}, Rate: -1},
		{Actions: []string{ActionSearch}, Indexes: make([]string, MaxKeyIndexes+1)},
	}
	for _, k := range bad {
		if err := k.Validate(); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%+v: %v, want ErrInvalidKey", k, err)
		}
	}
	now := time.Now()
	exp := KeyRecord{ExpiresAt: &now}
	if !exp.Expired(now) || exp.Expired(now.Add(-time.Second)) || (&KeyRecord{}).Expired(now) {
		t.Error("Expired is wrong at, before, or without an expiry")
	}
}
