package phantom_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/logtest"
	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/phantom/phantomtest"
	"github.com/portcullis/portcullis/internal/token"
)

// TestIntrospectorFailures: only a verified JWT lets a token in; an
// explicit inactive answer or a JWT that fails verification is cached as
// inactive; anything else is ErrUnavailable and is asked again next time.
func TestIntrospectorFailures(t *testing.T) {
	t.Parallel()
	other := phantomtest.NewIssuer(t, issuerName) // same name, other key
	tests := []struct {
		name    string
		answer  func(t *testing.T, f *fixture) http.HandlerFunc
		wantErr error
		// cached: a second Resolve makes no call.
		cached bool
		// logLevel, when set, must appear in the log.
		logLevel string
	}{
		{
			name:    "500",
			answer:  status(http.StatusInternalServerError, "application/json", `{"error":"server_error"}`),
			wantErr: phantom.ErrUnavailable,
		},
		{
			name:    "503",
			answer:  status(http.StatusServiceUnavailable, "text/plain", "down"),
			wantErr: phantom.ErrUnavailable,
		},
		{
			name:     "401 misconfigured gateway",
			answer:   status(http.StatusUnauthorized, "application/json", `{"error":"invalid_client"}`),
			wantErr:  phantom.ErrUnavailable,
			logLevel: "ERROR",
		},
		{
			name:     "403 client may not introspect",
			answer:   status(http.StatusForbidden, "application/json", `{"error":"unauthorized_client"}`),
			wantErr:  phantom.ErrUnavailable,
			logLevel: "ERROR",
		},
		{
			name:    "400",
			answer:  status(http.StatusBadRequest, "application/json", `{"error":"invalid_request"}`),
			wantErr: phantom.ErrUnavailable,
		},
		{
			name:    "redirect not followed",
			answer:  redirect,
			wantErr: phantom.ErrUnavailable,
		},
		{
			name:     "wrong content type",
			answer:   status(http.StatusOK, "text/html", "<html>login</html>"),
			wantErr:  phantom.ErrUnavailable,
			logLevel: "ERROR",
		},
		{
			name:    "no content type",
			answer:  status(http.StatusOK, "", "x.y.z"),
			wantErr: phantom.ErrUnavailable,
		},
		{
			name:     "active as json",
			answer:   status(http.StatusOK, "application/json", `{"active":true,"sub":"alice"}`),
			wantErr:  phantom.ErrUnavailable,
			logLevel: "ERROR",
		},
		{
			name:    "json without active",
			answer:  status(http.StatusOK, "application/json", `{"sub":"alice"}`),
			wantErr: phantom.ErrUnavailable,
		},
		{
			name:    "malformed json",
			answer:  status(http.StatusOK, "application/json", `{"active":`),
			wantErr: phantom.ErrUnavailable,
		},
		{
			name:    "inactive with charset",
			answer:  status(http.StatusOK, "application/json; charset=utf-8", `{"active":false}`),
			wantErr: phantom.ErrInactive,
			cached:  true,
		},
		{
			name:     "oversized body",
			answer:   status(http.StatusOK, "application/jwt", strings.Repeat("a", 64<<10+1)),
			wantErr:  phantom.ErrUnavailable,
			logLevel: "ERROR",
		},
		{
			name: "jwt signed by another key",
			answer: func(t *testing.T, f *fixture) http.HandlerFunc {
				jwt := other.AccessToken(t, "mallory", "order_item", f.clock.Now(), f.clock.Now().Add(time.Hour))
				return status(http.StatusOK, "application/jwt", jwt)(t, f)
			},
			wantErr:  token.ErrSignature,
			cached:   true,
			logLevel: "ERROR",
		},
		{
			name: "expired jwt",
			answer: func(t *testing.T, f *fixture) http.HandlerFunc {
				jwt := f.iss.AccessToken(t, "alice", "list_items", f.clock.Now().Add(-2*time.Hour), f.clock.Now().Add(-time.Hour))
				return status(http.StatusOK, "application/jwt; charset=us-ascii", jwt+"\n")(t, f)
			},
			wantErr: token.ErrExpired,
			cached:  true,
		},
		{
			name:    "empty jwt",
			answer:  status(http.StatusOK, "application/jwt", ""),
			wantErr: phantom.ErrInactive,
			cached:  true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, phantom.IntrospectorConfig{})
			f.as.Override(tc.answer(t, f))
			raw := opaque(t)
			_, err := f.in.Resolve(t.Context(), raw)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Resolve err = %v, want %v", err, tc.wantErr)
			}
			// Every refusal is one of the two kinds the gateway maps.
			if !errors.Is(err, phantom.ErrInactive) && !errors.Is(err, phantom.ErrUnavailable) {
				t.Errorf("Resolve err = %v, want it to wrap ErrInactive or ErrUnavailable", err)
			}
			_, err2 := f.in.Resolve(t.Context(), raw)
			if !errors.Is(err2, tc.wantErr) {
				t.Fatalf("second Resolve err = %v, want %v", err2, tc.wantErr)
			}
			wantCalls := int64(2)
			if tc.cached {
				wantCalls = 1
			}
			if got := f.as.Calls(); got != wantCalls {
				t.Errorf("introspection calls after two resolves = %d, want %d", got, wantCalls)
			}
			// Every uncached case is a failed call, counted as an error.
			if got := f.in.Stats().Errors; !tc.cached && got != 2 {
				t.Errorf("Stats.Errors = %d, want 2", got)
			}
			logs := f.logs.String()
			if tc.logLevel != "" && !strings.Contains(logs, `"level":"`+tc.logLevel+`"`) {
				t.Errorf("log has no %s line:\n%s", tc.logLevel, logs)
			}
			if strings.Contains(logs, raw) || strings.Contains(err.Error(), raw) {
				t.Errorf("the token leaked into a log line or error")
			}
		})
	}
}

func status(code int, contentType, body string) func(*testing.T, *fixture) http.HandlerFunc {
	return func(*testing.T, *fixture) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			if contentType != "" {
				w.Header().Set("Content-Type", contentType)
			} else {
				w.Header()["Content-Type"] = nil // no sniffing
			}
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}
	}
}

// redirect points the gateway at a second server, which must never see
// the token.
func redirect(t *testing.T, _ *fixture) http.HandlerFunc {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the redirect was followed: the token went elsewhere")
	}))
	t.Cleanup(elsewhere.Close)
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
	}
}

func TestIntrospectorTimeout(t *testing.T) {
	f := newFixture(t, phantom.IntrospectorConfig{Timeout: 50 * time.Millisecond})
	raw := opaque(t)
	f.issue(t, raw, "alice", time.Hour)
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	f.as.Block(gate)

	_, err := f.in.Resolve(t.Context(), raw)
	if !errors.Is(err, phantom.ErrUnavailable) {
		t.Fatalf("Resolve err = %v, want ErrUnavailable", err)
	}
	if got := f.in.Stats().Errors; got != 1 {
		t.Errorf("Stats.Errors = %d, want 1", got)
	}
	f.as.Block(nil)
	if _, err := f.in.Resolve(t.Context(), raw); err != nil {
		t.Errorf("Resolve after the server recovered: %v (a timeout must not be cached)", err)
	}
}

func TestIntrospectorNetworkError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/introspect"
	srv.Close() // nothing listens there any more
	cfg := phantom.IntrospectorConfig{URL: url, ClientID: gatewayID, ClientSecret: gatewaySecret}
	cfg.Client = defaultClient(t, cfg)
	in, err := phantom.NewIntrospector(cfg, phantomtest.NewIssuer(t, issuerName).Verifier(time.Now), nil, nil)
	if err != nil {
		t.Fatalf("NewIntrospector: %v", err)
	}
	if _, err := in.Resolve(t.Context(), opaque(t)); !errors.Is(err, phantom.ErrUnavailable) {
		t.Errorf("Resolve err = %v, want ErrUnavailable", err)
	}
}

// TestVerifierCancelled: verification running out of time is the
// service being unavailable, not the token being bad.
func TestVerifierCancelled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, phantom.IntrospectorConfig{})
	raw := opaque(t)
	f.issue(t, raw, "alice", time.Hour)
	v := phantomtest.VerifierFunc(func(context.Context, string) (*token.Verified, error) {
		return nil, context.DeadlineExceeded
	})
	cfg := phantom.IntrospectorConfig{URL: f.as.URL, ClientID: gatewayID, ClientSecret: gatewaySecret}
	cfg.Client = defaultClient(t, cfg)
	in, err := phantom.NewIntrospector(cfg, v, nil, f.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := in.Resolve(t.Context(), raw); !errors.Is(err, phantom.ErrUnavailable) {
			t.Fatalf("Resolve err = %v, want ErrUnavailable", err)
		}
	}
	if got := f.as.Calls(); got != 2 {
		t.Errorf("calls = %d, want 2 (not cached)", got)
	}
}

// TestVerifierPanics: a panicking verifier fails the request, not the
// process.
func TestVerifierPanics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, phantom.IntrospectorConfig{})
	raw := opaque(t)
	f.issue(t, raw, "alice", time.Hour)
	v := phantomtest.VerifierFunc(func(_ context.Context, raw string) (*token.Verified, error) {
		panic("verifier bug with " + raw)
	})
	logs := &logtest.Buffer{}
	cfg := phantom.IntrospectorConfig{URL: f.as.URL, ClientID: gatewayID, ClientSecret: gatewaySecret}
	cfg.Client = defaultClient(t, cfg)
	in, err := phantom.NewIntrospector(cfg, v, slog.New(slog.NewJSONHandler(logs, nil)), f.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Resolve(t.Context(), raw); !errors.Is(err, phantom.ErrUnavailable) {
		t.Fatalf("Resolve err = %v, want ErrUnavailable", err)
	}
	if strings.Contains(logs.String(), "verifier bug") {
		t.Errorf("the panic value (which may quote a token) was logged")
	}
}

// TestCredentialsEncoding: RFC 6749 §2.3.1 form-encodes the client id and
// secret inside Basic auth, so reserved characters survive.
func TestCredentialsEncoding(t *testing.T) {
	t.Parallel()
	const id, secret = "gate way:1", "s%e:c+ret/ü"
	as := phantomtest.NewAuthServer(t, id, secret)
	iss := phantomtest.NewIssuer(t, issuerName)
	cfg := phantom.IntrospectorConfig{URL: as.URL, ClientID: id, ClientSecret: secret}
	cfg.Client = defaultClient(t, cfg)
	in, err := phantom.NewIntrospector(cfg, iss.Verifier(time.Now), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := opaque(t)
	as.Issue(raw, iss.AccessToken(t, "alice", "", time.Now(), time.Now().Add(time.Hour)))
	if _, err := in.Resolve(t.Context(), raw); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if n := as.Malformed(); n != 0 {
		t.Errorf("server refused %d requests, want 0", n)
	}
}

func TestNewIntrospectorConfig(t *testing.T) {
	t.Parallel()
	v := phantomtest.NewIssuer(t, issuerName).Verifier(time.Now)
	good := phantom.IntrospectorConfig{URL: "https://as.example/oauth2/introspect", ClientID: "g", ClientSecret: "s3cr3t-value"}
	tests := []struct {
		name   string
		change func(*phantom.IntrospectorConfig)
		nilV   bool
		ok     bool
	}{
		{name: "good", change: func(*phantom.IntrospectorConfig) {}, ok: true},
		{name: "plain http", change: func(c *phantom.IntrospectorConfig) { c.URL = "http://10.0.0.1/introspect" }, ok: true},
		{name: "no url", change: func(c *phantom.IntrospectorConfig) { c.URL = "" }},
		{name: "relative url", change: func(c *phantom.IntrospectorConfig) { c.URL = "/introspect" }},
		{name: "other scheme", change: func(c *phantom.IntrospectorConfig) { c.URL = "ftp://as.example/x" }},
		{name: "credentials in url", change: func(c *phantom.IntrospectorConfig) { c.URL = "https://g:s3cr3t-value@as.example/x" }},
		{name: "fragment", change: func(c *phantom.IntrospectorConfig) { c.URL = "https://as.example/x#f" }},
		{name: "bad url", change: func(c *phantom.IntrospectorConfig) { c.URL = "https://as example/%zz" }},
		{name: "no client id", change: func(c *phantom.IntrospectorConfig) { c.ClientID = "" }},
		{name: "no secret", change: func(c *phantom.IntrospectorConfig) { c.ClientSecret = "" }},
		{name: "negative MaxTTL", change: func(c *phantom.IntrospectorConfig) { c.MaxTTL = -1 }},
		{name: "negative NegativeTTL", change: func(c *phantom.IntrospectorConfig) { c.NegativeTTL = -1 }},
		{name: "negative Timeout", change: func(c *phantom.IntrospectorConfig) { c.Timeout = -1 }},
		{name: "negative CacheSize", change: func(c *phantom.IntrospectorConfig) { c.CacheSize = -1 }},
		{name: "no verifier", change: func(*phantom.IntrospectorConfig) {}, nilV: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := good
			tc.change(&cfg)
			var jv phantom.JWTVerifier = v
			if tc.nilV {
				jv = nil
			}
			in, err := phantom.NewIntrospector(cfg, jv, nil, nil)
			if tc.ok {
				if err != nil || in == nil {
					t.Fatalf("NewIntrospector err = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, phantom.ErrInvalidConfig) {
				t.Fatalf("NewIntrospector err = %v, want ErrInvalidConfig", err)
			}
			if strings.Contains(err.Error(), cfg.ClientSecret) && cfg.ClientSecret != "" {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}
