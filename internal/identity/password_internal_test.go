package identity

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewHasherConcurrency(t *testing.T) {
	for _, tc := range []struct {
		in, want int
	}{
		{0, runtime.NumCPU()},
		{-3, runtime.NumCPU()},
		{1, 1},
		{7, 7},
	} {
		if got := cap(NewHasher(tc.in).sem); got != tc.want {
			t.Errorf("NewHasher(%d) allows %d at once, want %d", tc.in, got, tc.want)
		}
	}
}

// TestHasherWaitsForSlot fills the only slot and checks that a hash waits
// for it and gives up when its context ends.
func TestHasherWaitsForSlot(t *testing.T) {
	h := NewHasher(1)
	h.sem <- struct{}{} // a hash in progress
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := h.Hash(c, "password123")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Hash err = %v, want context.Canceled", err)
	}
	<-h.sem
	if _, err := h.Hash(context.Background(), "password123"); err != nil {
		t.Errorf("Hash after release: %v", err)
	}
	if n := len(h.sem); n != 0 {
		t.Errorf("%d slots still held after Hash returned, want 0", n)
	}
}

// TestDummyHashCostsWhatARealOneDoes guards the timing promise of
// Users.Authenticate: the dummy must use the parameters of new hashes.
func TestDummyHashCostsWhatARealOneDoes(t *testing.T) {
	p, salt, key, err := decodePHC(dummy())
	if err != nil {
		t.Fatalf("dummy hash does not parse: %v", err)
	}
	want := argonParams{memory: hashMemoryKiB, time: hashTime, threads: hashThreads}
	if diff := cmp.Diff(want, p, cmp.AllowUnexported(argonParams{})); diff != "" {
		t.Errorf("dummy params (-want +got):\n%s", diff)
	}
	if len(salt) != hashSaltLen || len(key) != hashKeyLen {
		t.Errorf("dummy salt/key = %d/%d bytes, want %d/%d", len(salt), len(key), hashSaltLen, hashKeyLen)
	}
	// Two calls must return the same hash: a fresh one per call would cost
	// a hash per unknown-user login on top of the check, and tell timing.
	if first, second := dummy(), dummy(); second != first {
		t.Errorf("dummy() = %q, then %q: want it computed once", first, second)
	}
}

func TestDecodePHC(t *testing.T) {
	p, salt, key, err := decodePHC("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	if err != nil {
		t.Fatal(err)
	}
	want := argonParams{memory: 65536, time: 3, threads: 4}
	if diff := cmp.Diff(want, p, cmp.AllowUnexported(argonParams{})); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
	if got := string(salt); got != "somesalt" {
		t.Errorf("salt = %q, want %q", got, "somesalt")
	}
	if len(key) != 32 {
		t.Errorf("key is %d bytes, want 32", len(key))
	}
}

// FuzzDecodePHC feeds arbitrary strings to the hash parser, which reads
// rows an attacker with database access could have planted. Whatever it
// accepts must be within bounds and re-encode to the same string.
func FuzzDecodePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzYWx0c2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=1048577,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := decodePHC(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("error %v does not wrap ErrMalformedHash", err)
			}
			return
		}
		if p.memory < 8*uint32(p.threads) || p.memory > maxMemoryKiB || p.time < 1 || p.time > maxTime ||
			p.threads < 1 || p.threads > maxThreads {
			t.Fatalf("accepted out-of-bounds params %+v", p)
		}
		if len(salt) < minSaltLen || len(salt) > maxSaltLen || len(key) < minKeyLen || len(key) > maxKeyLen {
			t.Fatalf("accepted salt/key of %d/%d bytes", len(salt), len(key))
		}
		if got := encodePHC(p, salt, key); got != s {
			t.Fatalf("accepted non-canonical %q (canonical %q)", s, got)
		}
	})
}
