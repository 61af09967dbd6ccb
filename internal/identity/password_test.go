package identity_test

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/identity"
)

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)

func TestHashVerifyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, password string
	}{
		{"ascii", "correct horse battery staple"},
		{"unicode", "pässwörd-日本語-🔑"},
		{"max length", strings.Repeat("x", identity.MaxPasswordBytes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := testHasher.Hash(ctx(), tc.password)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			m := phcRE.FindStringSubmatch(enc)
			if m == nil {
				t.Fatalf("Hash = %q, want an argon2id PHC string with m=19456,t=2,p=1", enc)
			}
			if salt, _ := base64.RawStdEncoding.DecodeString(m[1]); len(salt) != 16 {
				t.Errorf("salt is %d bytes, want 16", len(salt))
			}
			if key, _ := base64.RawStdEncoding.DecodeString(m[2]); len(key) != 32 {
				t.Errorf("key is %d bytes, want 32", len(key))
			}
			for _, v := range []struct {
				password string
				want     bool
			}{
				{tc.password, true},
				{"X" + tc.password[1:], false},
				{"", false},
			} {
				got, err := testHasher.Verify(ctx(), v.password, enc)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got != v.want {
					t.Errorf("Verify(%.10q...) = %v, want %v", v.password, got, v.want)
				}
			}
		})
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	a, err := testHasher.Hash(ctx(), "same password")
	if err != nil {
		t.Fatal(err)
	}
	b, err := testHasher.Hash(ctx(), "same password")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal (%q): salt not random", a)
	}
}

// TestVerifyReferenceVector checks interoperability with other argon2id
// implementations: this hash of "password" with salt "somesalt" is the
// one the reference implementation and argon2-cffi produce.
func TestVerifyReferenceVector(t *testing.T) {
	const enc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"password", true},
		{"Password", false},
	} {
		got, err := testHasher.Verify(ctx(), tc.password, enc)
		if err != nil {
			t.Fatalf("Verify(%q): %v", tc.password, err)
		}
		if got != tc.want {
			t.Errorf("Verify(%q) = %v, want %v", tc.password, got, tc.want)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "c29tZXNhbHRzYWx0c2FsdA"                      // 16 bytes
		key  = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc" // 32 bytes
	)
	for _, tc := range []struct {
		name, enc string
	}{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"old version", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key},
		{"missing hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt},
		{"extra field", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "$x"},
		{"params out of order", "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=19456,t=2$" + salt + "$" + key},
		{"keyid param", "$argon2id$v=19$m=19456,t=2,p=1,keyid=abc$" + salt + "$" + key},
		{"memory over 1 GiB", "$argon2id$v=19$m=1048577,t=2,p=1$" + salt + "$" + key},
		{"memory overflows uint32", "$argon2id$v=19$m=4294967296,t=2,p=1$" + salt + "$" + key},
		{"memory zero", "$argon2id$v=19$m=0,t=2,p=1$" + salt + "$" + key},
		{"memory below 8p", "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key},
		{"time over 10", "$argon2id$v=19$m=19456,t=11,p=1$" + salt + "$" + key},
		{"time zero", "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key},
		{"threads over 16", "$argon2id$v=19$m=19456,t=2,p=17$" + salt + "$" + key},
		{"threads zero", "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key},
		{"negative", "$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=019456,t=2,p=1$" + salt + "$" + key},
		{"hex number", "$argon2id$v=19$m=0x4c00,t=2,p=1$" + salt + "$" + key},
		{"salt too short", "$argon2id$v=19$m=19456,t=2,p=1$c29tZQ$" + key},
		{"salt padded", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key},
		{"salt url alphabet", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzYWx0c2Fs_A$" + key},
		{"hash too short", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$c29tZXNhbHQ"},
		{"hash too long", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + key + key},
		{"hash not base64", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.Repeat("!", 43)},
		{"hash non-canonical bits", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key[:42] + "d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const password = "hunter2hunter2"
			got, err := testHasher.Verify(ctx(), password, tc.enc)
			if !errors.Is(err, identity.ErrMalformedHash) {
				t.Fatalf("Verify err = %v, want ErrMalformedHash", err)
			}
			if got {
				t.Errorf("Verify = true on a malformed hash")
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestPasswordTooLong(t *testing.T) {
	long := strings.Repeat("a", identity.MaxPasswordBytes+1)
	if _, err := testHasher.Hash(ctx(), long); !errors.Is(err, identity.ErrPasswordTooLong) {
		t.Errorf("Hash err = %v, want ErrPasswordTooLong", err)
	}
	enc, err := testHasher.Hash(ctx(), "short enough")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := testHasher.Verify(ctx(), long, enc)
	if ok || !errors.Is(err, identity.ErrPasswordTooLong) {
		t.Errorf("Verify = %v, %v; want false, ErrPasswordTooLong", ok, err)
	}
}

func TestHasherCancelledContext(t *testing.T) {
	c, cancel := context.WithCancel(ctx())
	cancel()
	if _, err := testHasher.Hash(c, "whatever password"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash err = %v, want context.Canceled", err)
	}
	const enc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	if _, err := testHasher.Verify(c, "password", enc); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify err = %v, want context.Canceled", err)
	}
}

func BenchmarkHash(b *testing.B) {
	h := identity.NewHasher(1)
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
