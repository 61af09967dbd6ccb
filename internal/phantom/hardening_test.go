package phantom_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/logtest"
	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/phantom/phantomtest"
	"github.com/portcullis/portcullis/internal/token"
)

// proxyChildEnv marks the child process of
// TestIntrospectionIgnoresEnvironmentProxy.
const proxyChildEnv = "PHANTOM_TEST_PROXY_CHILD"

// TestIntrospectionIgnoresEnvironmentProxy: with HTTP_PROXY and
// HTTPS_PROXY pointing at a listener, introspection (which carries the
// gateway's client secret) never goes to it. net/http reads the proxy
// variables once per process, so the introspection runs in a child
// process started with them set.
func TestIntrospectionIgnoresEnvironmentProxy(t *testing.T) {
	if os.Getenv(proxyChildEnv) == "1" {
		introspectThroughEnvironment(t)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			_ = c.Close()
		}
	}()
	proxy := "http://" + ln.Addr().String()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestIntrospectionIgnoresEnvironmentProxy$", "-test.count=1")
	cmd.Env = append(os.Environ(), proxyChildEnv+"=1",
		"HTTP_PROXY="+proxy, "HTTPS_PROXY="+proxy, "http_proxy="+proxy, "https_proxy="+proxy,
		"NO_PROXY=", "no_proxy=", "REQUEST_METHOD=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the environment proxy received %d connections, want none\n%s", n, out)
	}
}

// introspectThroughEnvironment is the child: it introspects at hosts
// that do not resolve (there is nothing to reach but the proxy) over
// http and https.
func introspectThroughEnvironment(t *testing.T) {
	for _, u := range []string{"http://as.invalid/introspect", "https://as.invalid/introspect"} {
		in, err := phantom.NewIntrospector(phantom.IntrospectorConfig{
			URL: u, ClientID: gatewayID, ClientSecret: gatewaySecret, Timeout: 2 * time.Second,
		}, phantomtest.VerifierFunc(func(context.Context, string) (*token.Verified, error) {
			return nil, errors.New("not reached")
		}), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.Resolve(t.Context(), opaque(t)); !errors.Is(err, phantom.ErrUnavailable) {
			t.Errorf("%s: Resolve err = %v, want ErrUnavailable", u, err)
		}
	}
}

// TestVerifyFailureLogLevels: a phantom or split JWT the gateway refuses
// because it is meant for another API (or expired on the way) is the
// client's doing and logs at debug, so no client can flood the error
// log; a disagreement about keys or issuer stays an error. No line names
// a digest of the token.
func TestVerifyFailureLogLevels(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantLevel string
	}{
		{"wrong audience", token.ErrAudience, "DEBUG"},
		{"expired", token.ErrExpired, "DEBUG"},
		{"bad signature", token.ErrSignature, "ERROR"},
		{"wrong issuer", token.ErrIssuer, "ERROR"},
		{"unknown key", token.ErrUnknownKey, "ERROR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refuse := phantomtest.VerifierFunc(func(context.Context, string) (*token.Verified, error) {
				return nil, fmt.Errorf("verify: %w", tc.err)
			})
			t.Run("introspection", func(t *testing.T) {
				f := newFixture(t, phantom.IntrospectorConfig{})
				logs := &logtest.Buffer{}
				cfg := phantom.IntrospectorConfig{URL: f.as.URL, ClientID: gatewayID, ClientSecret: gatewaySecret}
				cfg.Client = defaultClient(t, cfg)
				in, err := phantom.NewIntrospector(cfg, refuse, debugLogger(logs), f.clock.Now)
				if err != nil {
					t.Fatal(err)
				}
				raw := opaque(t)
				f.issue(t, raw, "alice", time.Hour)
				if _, err := in.Resolve(t.Context(), raw); !errors.Is(err, tc.err) {
					t.Fatalf("Resolve err = %v, want %v", err, tc.err)
				}
				checkVerifyLog(t, logs.String(), "phantom token failed verification", tc.wantLevel)
			})
			t.Run("split", func(t *testing.T) {
				iss := phantomtest.NewIssuer(t, issuerName)
				clock := phantomtest.NewClock(epoch)
				jwt := iss.AccessToken(t, "alice", "list_items", clock.Now(), clock.Now().Add(time.Hour))
				hp, sig := splitJWT(t, jwt)
				logs := &logtest.Buffer{}
				src := splitSourceFunc(func(context.Context, []byte) (string, error) { return hp, nil })
				r := phantom.NewSplitResolver(src, refuse, phantom.IntrospectorConfig{}, debugLogger(logs), clock.Now)
				if _, err := r.Resolve(t.Context(), sig); !errors.Is(err, tc.err) {
					t.Fatalf("Resolve err = %v, want %v", err, tc.err)
				}
				checkVerifyLog(t, logs.String(), "split token failed verification", tc.wantLevel)
			})
		})
	}
}

func debugLogger(b *logtest.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// checkVerifyLog wants msg logged at level, nothing at ERROR unless level
// is ERROR, and no digest anywhere.
func checkVerifyLog(t *testing.T, logs, msg, level string) {
	t.Helper()
	if !strings.Contains(logs, `"level":"`+level+`","msg":"`+msg+`"`) {
		t.Errorf("want %q at %s; log:\n%s", msg, level, logs)
	}
	if level != "ERROR" && strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("a client's mistake was logged at ERROR:\n%s", logs)
	}
	if strings.Contains(logs, "digest") {
		t.Errorf("a log line names a digest of the token:\n%s", logs)
	}
}

type splitSourceFunc func(ctx context.Context, digest []byte) (string, error)

func (f splitSourceFunc) HeaderPayload(ctx context.Context, digest []byte) (string, error) {
	return f(ctx, digest)
}

func splitJWT(t testing.TB, jwt string) (headerPayload, sig string) {
	t.Helper()
	i := strings.LastIndexByte(jwt, '.')
	if i < 0 {
		t.Fatalf("not a jwt")
	}
	return jwt[:i], jwt[i+1:]
}

// TestInactiveLogsNoDigest: the debug line of an inactive answer names
// no digest of the token (docs/security.md: no digest of a token is
// logged).
func TestInactiveLogsNoDigest(t *testing.T) {
	f := newFixture(t, phantom.IntrospectorConfig{})
	if _, err := f.in.Resolve(t.Context(), opaque(t)); !errors.Is(err, phantom.ErrInactive) {
		t.Fatalf("Resolve err = %v, want ErrInactive", err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "token inactive") {
		t.Fatalf("no inactive line logged:\n%s", logs)
	}
	if strings.Contains(logs, "digest") {
		t.Errorf("a log line names a digest of the token:\n%s", logs)
	}
}
