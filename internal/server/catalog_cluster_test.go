package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/config"
)

// testPostgres creates a database for the test on the server of
// PORTCULLIS_TEST_POSTGRES, dropped when the test ends, and returns its
// DSN; it skips the test when the variable is unset.
func testPostgres(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("PORTCULLIS_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("set PORTCULLIS_TEST_POSTGRES=postgres://... to run the PostgreSQL cluster tests")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "portcullis_cluster_" + hex.EncodeToString(b)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PORTCULLIS_TEST_POSTGRES: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("connect to drop the database: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse PORTCULLIS_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Two gateway-only nodes on one PostgreSQL database both serve a change
// applied through a management installation within their poll interval.
func TestTwoGatewaysFollowOneCatalog(t *testing.T) {
	dsn := testPostgres(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, "hello from "+r.URL.Path)
	}))
	t.Cleanup(upstream.Close)
	const poll = 500 * time.Millisecond
	node := func(dsn string) (*config.Config, *Running) {
		cfg := testConfig(t)
		cfg.Store.DSN = dsn
		cfg.Gateway.CatalogPoll = config.Duration(poll)
		return cfg, startTest(t, cfg, WithRoles(RoleGateway))
	}
	// Gateway-only nodes never migrate; an installation does, as
	// `portcullis migrate` would.
	cfgA := testConfig(t)
	cfgA.Store.DSN = dsn
	in, err := OpenInstallation(t.Context(), cfgA, noEnv, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	// b reaches the database through a proxy the test can cut.
	proxyB, dsnB := newPGProxy(t, dsn)
	_, a := node(dsn)
	_, b := node(dsnB)

	for _, r := range []*Running{a, b} {
		if code, _ := get(t, r.GatewayURL+"/shop/hello"); code != http.StatusNotFound {
			t.Fatalf("before apply: GET /shop/hello = %d, want 404", code)
		}
	}
	applyDoc(t, cfgA, fmt.Sprintf(shopDoc, upstream.URL, "published"))
	applied := time.Now()
	for name, r := range map[string]*Running{"a": a, "b": b} {
		// The poll interval, plus a rebuild and a little scheduling.
		eventually(t, poll+500*time.Millisecond-time.Since(applied), func() error {
			code, body := get(t, r.GatewayURL+"/shop/hello")
			if code != http.StatusOK || body != "hello from /hello" {
				return fmt.Errorf("node %s: GET /shop/hello = %d %q", name, code, body)
			}
			return nil
		})
		t.Logf("node %s served the change %s after the apply", name, time.Since(applied).Round(time.Millisecond))
	}

	// Node b loses the store: its proxy cuts every connection.
	proxyB.setDown(true)

	applyDoc(t, cfgA, fmt.Sprintf(shopDoc, upstream.URL, "deprecated"))
	deprecated := func(name string, r *Running) func() error {
		return func() error {
			resp, err := http.Get(r.GatewayURL + "/shop/hello")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Deprecation") == "" {
				return fmt.Errorf("node %s: GET /shop/hello = %d, Deprecation %q after deprecating", name, resp.StatusCode, resp.Header.Get("Deprecation"))
			}
			return nil
		}
	}
	eventually(t, poll+500*time.Millisecond, deprecated("a", a))
	// b keeps serving its last table and says why.
	eventually(t, 3*poll, func() error {
		if ok, detail := b.wiring.catalog.status(); ok || !strings.Contains(detail, "catalog unreadable") {
			return fmt.Errorf("node b: status %v %q, want catalog unreadable", ok, detail)
		}
		return nil
	})
	resp, err := http.Get(b.GatewayURL + "/shop/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Deprecation") != "" {
		t.Errorf("node b during the outage: GET /shop/hello = %d, Deprecation %q; want 200 from the last table", resp.StatusCode, resp.Header.Get("Deprecation"))
	}

	// The store is back: b catches up within a poll.
	proxyB.setDown(false)
	eventually(t, poll+2*time.Second, deprecated("b", b))
	if ok, detail := b.wiring.catalog.status(); !ok {
		t.Errorf("node b after the outage: %q", detail)
	}
}

// pgProxy forwards loopback connections to a PostgreSQL server; while
// down it cuts every connection and refuses new ones, as a store outage
// of one node only (the shared server stays up for the others).
type pgProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

// newPGProxy proxies to the server of dsn and returns the proxy and the
// DSN through it.
func newPGProxy(t *testing.T, dsn string) (*pgProxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: u.Host, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		ln.Close()
		p.setDown(true)
	})
	go p.accept()
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *pgProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// setDown cuts (or allows again) the proxy's connections.
func (p *pgProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}
