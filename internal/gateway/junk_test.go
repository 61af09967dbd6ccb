package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/ratelimit/ratelimittest"
	"github.com/portcullis/portcullis/internal/token"
)

// junkOpaque returns a token shaped like an opaque access token that no
// issuer knows.
func junkOpaque(t testing.TB) string {
	t.Helper()
	s, err := token.NewOpaque(token.PrefixAccess)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJunkTokensRefusedByShape: a token that cannot be one of ours (wrong
// prefix, length or alphabet for an opaque token; no algorithm's size
// for a split signature) is invalid_token at once, and nobody is asked.
func TestJunkTokensRefusedByShape(t *testing.T) {
	e := newEnv(t, nil)
	good := e.token(t, "opaque", "list_items")
	sig := make([]byte, 64)
	_, _ = rand.Read(sig)
	tests := map[string]string{
		"opaque one short":          good[:len(good)-1],
		"opaque one long":           good + "A",
		"refresh token":             token.PrefixRefresh + good[len(token.PrefixAccess):],
		"opaque padded":             good + "=",
		"opaque with standard b64":  good[:len(good)-1] + "+",
		"random word":               "hello",
		"split of 63 bytes":         base64.RawURLEncoding.EncodeToString(sig[:63]),
		"split of 32 bytes (HS256)": base64.RawURLEncoding.EncodeToString(sig[:32]),
		"long junk":                 strings.Repeat("x", token.MaxLength),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			w := e.serve(request("GET", "/warehouse/items", tok))
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", w.Code)
			}
			if got := readProblem(t, w).Type; got != "urn:portcullis:problem:invalid-token" {
				t.Errorf("problem type = %q", got)
			}
			if h := w.Header().Get("Www-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q, want invalid_token", h)
			}
		})
	}
	if n := e.is.Introspections(); n != 0 {
		t.Errorf("introspections = %d, want 0: junk must be refused before any call", n)
	}
	// The control: the well-shaped token still resolves.
	if w := e.serve(request("GET", "/warehouse/items", good)); w.Code != http.StatusOK {
		t.Errorf("good opaque token: status %d, want 200", w.Code)
	}
}

// TestIntrospectionCap: 10,000 distinct well-shaped junk tokens, all at
// once, reach the authorization server at most max_introspections at a
// time; the rest are answered 503 with Retry-After without waiting.
func TestIntrospectionCap(t *testing.T) {
	const (
		flood = 10000
		limit = 8
	)
	e := newEnv(t, func(s *catalog.Snapshot) { s.Issuers[0].MaxIntrospections = limit })
	gate := make(chan struct{})
	e.is.HoldIntrospections(gate)
	tokens := make([]string, flood)
	for i := range tokens {
		tokens[i] = junkOpaque(t)
	}
	var (
		wg                         sync.WaitGroup
		done, busy, denied, others atomic.Int64
	)
	serve := func(tok string) {
		w := e.serve(request("GET", "/warehouse/items", tok))
		switch w.Code {
		case http.StatusServiceUnavailable:
			if w.Header().Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			busy.Add(1)
		case http.StatusUnauthorized:
			denied.Add(1)
		default:
			others.Add(1)
		}
		done.Add(1)
	}
	// Many clients at once, far more than the cap: the few held at the
	// authorization server leave the others to drain the flood (500
	// goroutines keep the race detector's limit out of reach).
	work := make(chan string)
	for range 500 {
		wg.Go(func() {
			for tok := range work {
				serve(tok)
			}
		})
	}
	go func() {
		for _, tok := range tokens {
			work <- tok
		}
		close(work)
	}()
	// Wait until every request was either answered or is held at the
	// authorization server.
	for done.Load()+e.is.IntrospectionsInFlight() < flood {
		time.Sleep(time.Millisecond)
	}
	if got := e.is.MaxIntrospectionsInFlight(); got > limit {
		t.Errorf("concurrent introspections = %d, want at most %d", got, limit)
	}
	close(gate)
	wg.Wait()
	if got := e.is.Introspections(); got > limit {
		t.Errorf("introspections = %d, want at most %d", got, limit)
	}
	if got, want := busy.Load(), flood-e.is.Introspections(); got != want {
		t.Errorf("503 answers = %d, want %d", got, want)
	}
	if others.Load() != 0 {
		t.Errorf("%d answers were neither 401 nor 503", others.Load())
	}
}

// TestPreAuthLimit: with preauth_limit, one address gets at most the
// rate of token resolutions however many distinct tokens it makes up;
// other addresses are not affected, and an IPv6 /64 counts as one.
func TestPreAuthLimit(t *testing.T) {
	const perSecond = 5
	clock := ratelimittest.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	e := newEnvWith(t, func(s *catalog.Snapshot) {
		s.PreAuthLimit = catalog.PreAuthLimit{Rate: "5/s"}
	}, func(o *Options) { o.Now = clock.Now })
	e.is.Now = clock.Now
	flood := func(addr string, n int) (limited int) {
		for range n {
			r := request("GET", "/warehouse/items", junkOpaque(t))
			r.RemoteAddr = addr
			w := e.serve(r)
			switch w.Code {
			case http.StatusTooManyRequests:
				if w.Header().Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
				if got := readProblem(t, w).Type; got != "urn:portcullis:problem:rate-limited" {
					t.Errorf("problem type = %q", got)
				}
				limited++
			case http.StatusUnauthorized:
			default:
				t.Fatalf("status = %d, want 401 or 429", w.Code)
			}
		}
		return limited
	}
	for sec := range 3 {
		before := e.is.Introspections()
		if got := flood("192.0.2.10:40000", 1000); got != 1000-perSecond {
			t.Errorf("second %d: limited %d of 1000, want %d", sec, got, 1000-perSecond)
		}
		if got := e.is.Introspections() - before; got > perSecond {
			t.Errorf("second %d: introspections = %d, want at most %d", sec, got, perSecond)
		}
		clock.Advance(time.Second)
	}
	// Another address has its own allowance.
	if got := flood("198.51.100.7:1234", perSecond); got != 0 {
		t.Errorf("another address: limited %d, want 0", got)
	}
	// Addresses of one IPv6 /64 share one.
	flood("[2001:db8:1:2::1]:1", perSecond)
	if got := flood("[2001:db8:1:2:ffff::9]:1", 1); got != 1 {
		t.Errorf("same /64: limited %d of 1, want 1", got)
	}
}
