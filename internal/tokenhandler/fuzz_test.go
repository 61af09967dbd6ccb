package tokenhandler

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzOpen feeds the cookie decoder what a browser (or an attacker) may
// send: it must never panic, must refuse with one of its errors, and
// must open only what the key sealed for that name. Seeds are in
// testdata/fuzz/FuzzOpen: sealed values of the fuzz key and broken ones.
func FuzzOpen(f *testing.F) {
	s, err := NewSealer([]Key{{ID: "fuzz", Secret: bytes.Repeat([]byte{7}, KeySize)}}, fixedNow)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := s.Seal("pc-app-at", []byte("token"), testNow.Add(time.Hour))
	f.Add("pc-app-at", good)
	f.Add("pc-app-rt", good)
	f.Add("pc-app-at", good[:len(good)-3])
	f.Fuzz(func(t *testing.T, name, value string) {
		v, exp, err := s.Open(name, value)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) &&
				!errors.Is(err, ErrUnauthentic) && !errors.Is(err, ErrExpired) {
				t.Fatalf("unexpected error %v", err)
			}
			if v != nil {
				t.Fatal("a value with an error")
			}
			return
		}
		if !testNow.Before(exp) {
			t.Fatalf("opened an expired value (exp %v)", exp)
		}
		// Only a real seal opens: the same bytes under another name
		// never do.
		if _, _, err := s.Open(name+"x", value); err == nil {
			t.Fatal("a value opened under two names")
		}
	})
}
