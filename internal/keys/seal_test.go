package keys_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/portcullis/portcullis/internal/keys"
)

func newSealer(t testing.TB, master []byte, purpose string) *keys.Sealer {
	t.Helper()
	s, err := keys.NewSealer(master, purpose)
	if err != nil {
		t.Fatalf("NewSealer() error = %v", err)
	}
	return s
}

func TestSealerRoundTrip(t *testing.T) {
	master := bytes.Repeat([]byte{3}, 32)
	s := newSealer(t, master, "test")
	for _, plain := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("secret"), 500)} {
		sealed, err := s.Seal(plain, []byte("aad"))
		if err != nil {
			t.Fatalf("Seal() error = %v", err)
		}
		if len(plain) >= 8 && bytes.Contains(sealed, plain) {
			t.Error("sealed value contains the plaintext")
		}
		got, err := s.Open(sealed, []byte("aad"))
		if err != nil {
			t.Fatalf("Open() error = %v", err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("Open(Seal(%q)) = %q", plain, got)
		}
	}
	a, _ := s.Seal([]byte("same"), nil)
	b, _ := s.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Error("two seals of the same plaintext are equal: nonce reused")
	}
}

func TestSealerOpenFails(t *testing.T) {
	master := bytes.Repeat([]byte{3}, 32)
	s := newSealer(t, master, "test")
	sealed, err := s.Seal([]byte("private key"), []byte("kid-1"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	otherMaster := bytes.Repeat([]byte{4}, 32)
	tests := []struct {
		name   string
		sealer *keys.Sealer
		sealed []byte
		aad    string
	}{
		{"version byte", s, flip(0), "kid-1"},
		{"nonce", s, flip(1), "kid-1"},
		{"ciphertext", s, flip(14), "kid-1"},
		{"tag", s, flip(len(sealed) - 1), "kid-1"},
		{"truncated", s, sealed[:len(sealed)-1], "kid-1"},
		{"too short", s, sealed[:10], "kid-1"},
		{"empty", s, nil, "kid-1"},
		{"wrong aad", s, sealed, "kid-2"},
		{"wrong master", newSealer(t, otherMaster, "test"), sealed, "kid-1"},
		{"wrong purpose", newSealer(t, master, "other"), sealed, "kid-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.sealed, []byte(tt.aad))
			if !errors.Is(err, keys.ErrOpen) {
				t.Errorf("Open() error = %v, want ErrOpen", err)
			}
			if got != nil {
				t.Errorf("Open() = %q, want nil", got)
			}
		})
	}
}

func TestNewSealerRejectsBadMaster(t *testing.T) {
	tests := []struct {
		name    string
		master  []byte
		purpose string
	}{
		{"nil", nil, "p"},
		{"short", make([]byte, 16), "p"},
		{"long", bytes.Repeat([]byte{1}, 64), "p"},
		{"all zero", make([]byte, 32), "p"},
		{"no purpose", bytes.Repeat([]byte{1}, 32), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := keys.NewSealer(tt.master, tt.purpose); err == nil {
				t.Error("NewSealer() error = nil, want an error")
			}
		})
	}
}
