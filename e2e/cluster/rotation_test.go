package cluster

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// keyRotationUnderLoad: `portcullis keys rotate` against the store while
// the gateways carry JWT and phantom traffic and clients keep fetching
// fresh tokens: no request fails, both authorization servers move to the
// new key (keys.reload_interval, 1 s here), and every gateway and the
// other authorization server accept what the new key signs. The new
// active key was published as "next" before, so no gateway has to
// refetch the issuer's keys to verify it.
func keyRotationUnderLoad(t *testing.T, c *Cluster) {
	ctx := t.Context()
	first, err := c.Token(ctx, c.Authz[0].AuthzURL, JWTClient)
	if err != nil {
		t.Fatal(err)
	}
	oldKid := kid(t, first)
	opaque, err := c.Token(ctx, c.Issuer, OpaqueClient)
	if err != nil {
		t.Fatal(err)
	}
	var jwt atomic.Pointer[string]
	jwt.Store(&first)
	var refreshed, refreshErrs atomic.Int64
	stop := make(chan struct{})
	refresher := make(chan struct{})
	go func() {
		// A client fetching a fresh token every 50 ms through the issuer's
		// balancer: the load always carries the newest signature.
		defer close(refresher)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			tok, err := c.Token(ctx, c.Issuer, JWTClient)
			if err != nil {
				refreshErrs.Add(1)
				t.Logf("token request during rotation: %v", err)
				continue
			}
			refreshed.Add(1)
			jwt.Store(&tok)
		}
	}()
	load := make(chan Result, 1)
	go func() {
		load <- Load{
			Targets: RoundRobin(c.gatewayURLs()...), Path: "/api/items", Workers: 8, Duration: 5 * time.Second,
			Token: func(i int) string {
				if i%2 == 0 {
					return opaque
				}
				return *jwt.Load()
			},
		}.Run(ctx)
	}()

	time.Sleep(500 * time.Millisecond)
	out, err := c.CLI(ctx, "", "keys", "rotate", "--config", c.Authz[0].ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("keys rotate: %s", strings.TrimSpace(string(out)))

	// Each authorization server signs with the new key once it has
	// reloaded; wait for both (a bound of many reload intervals).
	newTok := map[string]string{}
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range c.Authz {
		for {
			tok, err := c.Token(ctx, a.AuthzURL, JWTClient)
			if err == nil && kid(t, tok) != oldKid {
				newTok[a.Name] = tok
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still signs with the old key %s after the rotation (%v)", a.Name, oldKid, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	res := <-load
	close(stop)
	<-refresher
	t.Logf("load across the rotation: %v; %d fresh tokens fetched, %d token requests failed", res, refreshed.Load(), refreshErrs.Load())
	if res.Err != 0 || refreshErrs.Load() != 0 {
		t.Errorf("%d requests and %d token requests failed during the key rotation, want 0: %v", res.Err, refreshErrs.Load(), res.Errors)
	}
	if res.OK == 0 {
		t.Error("no request succeeded during the key rotation")
	}
	for name, tok := range newTok {
		t.Logf("%s signs with %s (was %s)", name, kid(t, tok), oldKid)
		for _, g := range c.Gateways {
			if code, err := Call(ctx, g.GatewayURL, "/api/items", tok, nil); err != nil || code != http.StatusOK {
				t.Errorf("%s answered %d (%v) to a token of %s signed with the new key, want 200", g.Name, code, err, name)
			}
		}
		for _, a := range c.Authz {
			if active, err := c.Introspect(ctx, a.AuthzURL, tok); err != nil || !active {
				t.Errorf("%s: a token of %s signed with the new key is active=%v (%v)", a.Name, name, active, err)
			}
		}
	}
}

// kid is the key id in a JWT's protected header.
func kid(t testing.TB, jwt string) string {
	t.Helper()
	head, _, ok := strings.Cut(jwt, ".")
	if !ok {
		t.Fatalf("not a JWT: %.12s...", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Kid == "" {
		t.Fatalf("JWT header %s: %v", b, err)
	}
	return h.Kid
}
