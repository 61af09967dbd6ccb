package tokenhandler

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

func testKey(id string, b byte) Key { return Key{ID: id, Secret: bytes.Repeat([]byte{b}, KeySize)} }

func mustSealer(t testing.TB, keys ...Key) *Sealer {
	t.Helper()
	s, err := NewSealer(keys, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	s := mustSealer(t, testKey("k1", 1))
	exp := testNow.Add(time.Hour)
	sealed, err := s.Seal("pc-app-at", []byte("opaque-token"), exp)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "opaque") || strings.ContainsAny(sealed, "=+/") {
		t.Fatalf("sealed value %q is not opaque base64url", sealed)
	}
	v, gotExp, err := s.Open("pc-app-at", sealed)
	if err != nil || string(v) != "opaque-token" || !gotExp.Equal(exp) {
		t.Fatalf("Open = %q, %v, %v", v, gotExp, err)
	}
	again, _ := s.Seal("pc-app-at", []byte("opaque-token"), exp)
	if again == sealed {
		t.Error("two seals of the same value are equal: the nonce is not fresh")
	}
}

// TestOpenRefuses: every way to get a sealed value wrong fails with its
// error and never quotes the value.
func TestOpenRefuses(t *testing.T) {
	s := mustSealer(t, testKey("k1", 1))
	sealed, err := s.Seal("pc-app-at", []byte("secret-token"), testNow.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x80
		return base64.RawURLEncoding.EncodeToString(b)
	}
	enc := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	hdr := 2 + len("k1")
	cases := []struct {
		name   string
		sealer *Sealer
		cookie string
		value  string
		want   error
	}{
		{"tampered ciphertext", s, "pc-app-at", flip(hdr + nonceSize + 3), ErrUnauthentic},
		{"tampered tag", s, "pc-app-at", flip(len(raw) - 1), ErrUnauthentic},
		{"tampered nonce", s, "pc-app-at", flip(hdr), ErrUnauthentic},
		{"tampered key id", s, "pc-app-at", flip(2), ErrUnknownKey},
		{"tampered version", s, "pc-app-at", flip(0), ErrMalformed},
		{"key id length past the value", s, "pc-app-at", enc(append([]byte{1, 200}, raw[2:]...)), ErrMalformed},
		{"truncated by one byte", s, "pc-app-at", enc(raw[:len(raw)-1]), ErrUnauthentic},
		{"truncated to the header", s, "pc-app-at", enc(raw[:hdr+nonceSize]), ErrMalformed},
		{"not base64url", s, "pc-app-at", sealed[:10] + "+/" + sealed[12:], ErrMalformed},
		{"padded", s, "pc-app-at", sealed + "==", ErrMalformed},
		{"empty", s, "pc-app-at", "", ErrMalformed},
		{"too long", s, "pc-app-at", strings.Repeat("A", MaxCookieSize+1), ErrMalformed},
		{"another cookie's name", s, "pc-app-rt", sealed, ErrUnauthentic},
		{"another app's name", s, "pc-other-at", sealed, ErrUnauthentic},
		{"same key id, other key bytes", mustSealer(t, testKey("k1", 2)), "pc-app-at", sealed, ErrUnauthentic},
		{"unknown key id", mustSealer(t, testKey("k2", 1)), "pc-app-at", sealed, ErrUnknownKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, _, err := c.sealer.Open(c.cookie, c.value)
			if !errors.Is(err, c.want) || v != nil {
				t.Fatalf("Open = %q, %v; want %v", v, err, c.want)
			}
			if strings.Contains(err.Error(), "secret-token") || (len(c.value) > 8 && strings.Contains(err.Error(), c.value[:8])) {
				t.Errorf("error %q quotes the cookie", err)
			}
		})
	}
}

func TestOpenExpiry(t *testing.T) {
	now := testNow
	s, _ := NewSealer([]Key{testKey("k1", 1)}, func() time.Time { return now })
	sealed, _ := s.Seal("n", []byte("v"), testNow.Add(time.Minute))
	if _, _, err := s.Open("n", sealed); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	now = testNow.Add(time.Minute)
	if _, _, err := s.Open("n", sealed); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: %v, want ErrExpired", err)
	}
}

// TestKeyRotation: the first key seals, every key opens; a sealer that
// dropped the old key refuses what it sealed.
func TestKeyRotation(t *testing.T) {
	old := mustSealer(t, testKey("2025", 1))
	rotated := mustSealer(t, testKey("2026", 2), testKey("2025", 1))
	retired := mustSealer(t, testKey("2026", 2))
	exp := testNow.Add(time.Hour)

	byOld, _ := old.Seal("c", []byte("v"), exp)
	if v, _, err := rotated.Open("c", byOld); err != nil || string(v) != "v" {
		t.Fatalf("old key does not open after rotation: %q %v", v, err)
	}
	byNew, _ := rotated.Seal("c", []byte("v"), exp)
	raw, _ := base64.RawURLEncoding.DecodeString(byNew)
	if string(raw[2:2+raw[1]]) != "2026" {
		t.Errorf("rotated sealer seals with key %q, want 2026", raw[2:2+raw[1]])
	}
	if _, _, err := old.Open("c", byNew); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old sealer opens the new key's cookie: %v", err)
	}
	if _, _, err := retired.Open("c", byOld); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("retired key still opens: %v", err)
	}
}

func TestNewSealerRefuses(t *testing.T) {
	for name, keys := range map[string][]Key{
		"none":      nil,
		"short key": {{ID: "a", Secret: make([]byte, 16)}},
		"no id":     {{Secret: make([]byte, KeySize)}},
		"long id":   {{ID: strings.Repeat("a", 33), Secret: make([]byte, KeySize)}},
		"twice":     {testKey("a", 1), testKey("a", 2)},
	} {
		if _, err := NewSealer(keys, nil); err == nil {
			t.Errorf("%s: NewSealer accepted it", name)
		}
	}
}

// TestCookieTooLarge: a token that does not fit is refused when set,
// with the cookie's name and size, never its value.
func TestCookieTooLarge(t *testing.T) {
	j := newJar("__Host-pc-app-", true, mustSealer(t, testKey("k1", 1)), fixedNow)
	var sc setCookies
	err := j.add(&sc, kindAccess, bytes.Repeat([]byte("x"), 3000), testNow.Add(time.Hour))
	var tl *CookieTooLargeError
	if !errors.As(err, &tl) || tl.Name != "__Host-pc-app-at" || tl.Size <= MaxCookieSize {
		t.Fatalf("err = %v, want a CookieTooLargeError", err)
	}
	if strings.Contains(err.Error(), "xxxx") || len(sc) != 0 {
		t.Errorf("error %q quotes the value, or a cookie was kept", err)
	}
	if err := j.add(&sc, kindAccess, bytes.Repeat([]byte("x"), 2000), testNow.Add(time.Hour)); err != nil {
		t.Fatalf("a 2000-byte token: %v", err)
	}
}

// TestJarAttributes checks the Set-Cookie lines and that reading finds
// exactly the agent's cookie.
func TestJarAttributes(t *testing.T) {
	j := newJar("__Host-pc-app-", true, mustSealer(t, testKey("k1", 1)), fixedNow)
	var sc setCookies
	if err := j.add(&sc, kindRefresh, []byte("rt"), testNow.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	j.clear(&sc, kindAccess)
	w := httptest.NewRecorder()
	sc.write(w)
	lines := w.Header().Values("Set-Cookie")
	if len(lines) != 2 {
		t.Fatalf("Set-Cookie = %q", lines)
	}
	for i, want := range []string{"; Path=/; Max-Age=7200; HttpOnly; Secure; SameSite=Strict", "__Host-pc-app-at=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"} {
		if !strings.HasSuffix(lines[i], want) {
			t.Errorf("Set-Cookie[%d] = %q, want it to end with %q", i, lines[i], want)
		}
	}
	value := strings.TrimPrefix(strings.SplitN(lines[0], ";", 2)[0], "__Host-pc-app-rt=")
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.Header.Add("Cookie", "x=1; __Host-pc-app-rt="+value+"; y=2")
	if v, _, err := j.open(r, kindRefresh); err != nil || string(v) != "rt" {
		t.Fatalf("open = %q, %v", v, err)
	}
	// The same cookie twice (one planted): neither is trusted.
	r.Header.Add("Cookie", "__Host-pc-app-rt="+value)
	if _, _, err := j.open(r, kindRefresh); !errors.Is(err, errDuplicateCookie) {
		t.Errorf("duplicate cookie: %v", err)
	}
	if _, _, err := j.open(r, kindAccess); !errors.Is(err, errNoCookie) {
		t.Errorf("absent cookie: %v", err)
	}
}
