package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// The variables that locate the shared servers; .ci/run sets both.
const (
	PostgresEnv = "PORTCULLIS_TEST_POSTGRES"
	RedisEnv    = "PORTCULLIS_TEST_REDIS"
)

// Audience is the audience of the cluster's API and of its tokens.
const Audience = "urn:portcullis:api:cluster"

// Cluster is a running cluster: two authorization servers behind an
// issuer balancer, three gateways, one database, one Redis prefix and an
// upstream, each dependency behind a proxy a scenario may cut.
type Cluster struct {
	t   testing.TB
	dir string
	bin string
	// masterKey is the authorization servers' PORTCULLIS_MASTER_KEY.
	masterKey string

	// Issuer is the issuer URL: the balancer in front of both
	// authorization servers, which the gateways introspect through.
	Issuer string
	// Postgres and Redis are the proxies every node reaches them through.
	Postgres, Redis, Balancer *Proxy
	// Authz are the authorization-server nodes (roles authz,admin),
	// Gateways the gateway nodes (roles gateway,admin).
	Authz, Gateways []*Node
	// Upstream is the API's backend, in the test process.
	Upstream *Upstream
	// Secrets holds the confidential clients' secrets by client id.
	Secrets map[string]string
	// Database is the run's database name, Prefix its Redis key prefix.
	Database, Prefix string
}

// The clients the cluster is seeded with.
const (
	GatewayClient = "gateway"    // introspects for the gateways
	OpaqueClient  = "svc-opaque" // client credentials, opaque (phantom) tokens
	JWTClient     = "svc-jwt"    // client credentials, JWT access tokens
	SPAClient     = "spa"        // public, authorization code + PKCE, refresh tokens
	RedirectURI   = "http://127.0.0.1:9/cb"
	UserName      = "alice"
	UserPassword  = "correct horse battery staple 42"
)

// Skip skips t unless both shared servers are configured.
func Skip(t testing.TB) {
	t.Helper()
	if os.Getenv(PostgresEnv) == "" || os.Getenv(RedisEnv) == "" {
		t.Skipf("cluster tests need %s (a PostgreSQL URL) and %s (a Redis host:port); .ci/run sets both", PostgresEnv, RedisEnv)
	}
}

// Start builds the binary (once per test binary), creates the run's
// database, starts every node and waits until each is ready. t's cleanup
// stops every process, prints the nodes' logs when t failed, drops the
// database and deletes the run's Redis keys.
func Start(t *testing.T) *Cluster {
	t.Helper()
	Skip(t)
	bin := build(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := &Cluster{t: t, dir: t.TempDir(), bin: bin, Secrets: map[string]string{}}
	c.masterKey = base64.StdEncoding.EncodeToString(random(t, 32))
	suffix := hex.EncodeToString(random(t, 6))
	c.Database = "portcullis_cluster_" + suffix
	c.Prefix = "pcc" + suffix + ":"

	pgURL := c.createDatabase(ctx)
	c.Postgres = NewProxy(t, pgURL.Host)
	c.Redis = NewProxy(t, os.Getenv(RedisEnv))
	t.Cleanup(c.cleanRedis)
	c.Upstream = NewUpstream(t)

	authzPorts := []int{freePort(t), freePort(t)}
	c.Balancer = NewProxy(t, addr(authzPorts[0]), addr(authzPorts[1]))
	c.Issuer = "http://" + c.Balancer.Addr()
	pgURL.Host = c.Postgres.Addr()
	dsn := pgURL.String()
	// The secret file must exist for the configuration to load; the
	// gateway client's secret replaces the placeholder below.
	secretFile := filepath.Join(c.dir, "gateway.secret")
	if err := os.WriteFile(secretFile, []byte("placeholder"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		c.Authz = append(c.Authz, c.node(fmt.Sprintf("authz-%d", i+1), "authz,admin", authzPorts[i], dsn, secretFile))
	}
	for i := range 3 {
		c.Gateways = append(c.Gateways, c.node(fmt.Sprintf("gw-%d", i+1), "gateway,admin", freePort(t), dsn, secretFile))
	}
	t.Cleanup(func() {
		for _, n := range c.Nodes() {
			n.Kill()
		}
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Logf("--- log of %s (last 60 lines) ---\n%s", n.Name, n.LogTail(60))
			}
		}
	})

	c.seed(ctx, secretFile)
	for _, n := range c.Authz {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	c.waitReady(ctx, c.Authz...)
	for _, n := range c.Gateways {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	c.waitReady(ctx, c.Gateways...)
	return c
}

// Nodes are every node, authorization servers first.
func (c *Cluster) Nodes() []*Node { return append(append([]*Node(nil), c.Authz...), c.Gateways...) }

func (c *Cluster) waitReady(ctx context.Context, nodes ...*Node) {
	c.t.Helper()
	for _, n := range nodes {
		if err := n.WaitReady(ctx); err != nil {
			c.t.Fatalf("%v\n%s", err, n.LogTail(30))
		}
	}
}

// Restart starts a stopped node again on its ports and waits until it is
// ready.
func (c *Cluster) Restart(n *Node) {
	c.t.Helper()
	if err := n.Start(); err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c.waitReady(ctx, n)
}

// createDatabase creates the run's database on the server of
// PORTCULLIS_TEST_POSTGRES and returns the URL of the new database.
func (c *Cluster) createDatabase(ctx context.Context) *url.URL {
	t := c.t
	base := os.Getenv(PostgresEnv)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	defer conn.Close(ctx)
	// The name is ours (hex), so it needs no quoting beyond the identifier.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+c.Database); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop database %s: %v", c.Database, err)
			return
		}
		defer conn.Close(ctx)
		// FORCE: a node killed with SIGKILL may leave a session behind
		// for a moment.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+c.Database+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", c.Database, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + c.Database
	return u
}

// cleanRedis deletes the run's keys, so runs never see each other's
// counters even on a shared server.
func (c *Cluster) cleanRedis() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc := redis.NewClient(&redis.Options{Addr: os.Getenv(RedisEnv)})
	defer rc.Close()
	iter := rc.Scan(ctx, 0, c.Prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		rc.Del(ctx, keys...)
	}
}

// seed migrates the store and registers the clients and the user.
func (c *Cluster) seed(ctx context.Context, secretFile string) {
	t := c.t
	cfg := c.Authz[0].ConfigPath
	if _, err := c.CLI(ctx, "", "migrate", "--config", cfg); err != nil {
		t.Fatal(err)
	}
	create := func(id string, args ...string) {
		out, err := c.CLI(ctx, "", append([]string{"clients", "create", "--config", cfg, "--id", id, "--json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			Secret string `json:"client_secret"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("clients create %s: %v: %s", id, err, out)
		}
		c.Secrets[id] = resp.Secret
	}
	create(GatewayClient, "--grant-type", "client_credentials", "--introspect")
	create(OpaqueClient, "--grant-type", "client_credentials", "--scope", "list_items", "--format", "opaque")
	create(JWTClient, "--grant-type", "client_credentials", "--scope", "list_items", "--format", "jwt")
	create(SPAClient, "--public", "--auth-method", "none", "--grant-type", "authorization_code", "--grant-type", "refresh_token",
		"--redirect-uri", RedirectURI, "--scope", "openid list_items offline_access", "--format", "opaque")
	if _, err := c.CLI(ctx, UserPassword+"\n", "users", "create", UserName, "--config", cfg, "--role", "staff"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte(c.Secrets[GatewayClient]), 0o600); err != nil {
		t.Fatal(err)
	}
}

// CLI runs the binary with args as the operator of the authorization
// servers would (with the master key), and returns its standard output.
func (c *Cluster) CLI(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env(true)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("portcullis %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// env is the environment of a node or command: the test's, without any
// PORTCULLIS_ variable, plus the master key for the authorization side.
func (c *Cluster) env(master bool) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTCULLIS_") {
			env = append(env, kv)
		}
	}
	if master {
		env = append(env, "PORTCULLIS_MASTER_KEY="+c.masterKey)
	}
	return env
}

// node writes the configuration of one node; port is its role's port
// (authz or gateway), the others are free ports of their own.
func (c *Cluster) node(name, roles string, port int, dsn, secretFile string) *Node {
	t := c.t
	authz, gw := port, port
	isAuthz := strings.HasPrefix(roles, "authz")
	if isAuthz {
		gw = freePort(t)
	} else {
		authz = freePort(t)
	}
	admin := freePort(t)
	n := &Node{
		Name: name, Roles: roles,
		ConfigPath: filepath.Join(c.dir, name+".yaml"),
		AuthzURL:   "http://" + addr(authz), GatewayURL: "http://" + addr(gw), AdminURL: "http://" + addr(admin),
		bin: c.bin, env: c.env(isAuthz), logPath: filepath.Join(c.dir, name+".log"),
	}
	// Gateways log at warn: their access log (info) would write a line
	// per request of the soak.
	level := "info"
	if !isAuthz {
		level = "warn"
	}
	data := strings.NewReplacer(
		"$ISSUER", c.Issuer, "$AUTHZ", addr(authz), "$ADMIN", addr(admin), "$GATEWAY", addr(gw),
		"$DATA", filepath.Join(c.dir, name), "$DSN", strconv.Quote(dsn), "$REDIS", c.Redis.Addr(),
		"$PREFIX", strconv.Quote(c.Prefix), "$LEVEL", level, "$SECRET", secretFile,
		"$UPSTREAM", c.Upstream.URL, "$AUDIENCE", Audience,
	).Replace(nodeConfig)
	if err := os.WriteFile(n.ConfigPath, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

// The limits of the API's operations (see nodeConfig).
const (
	// QuotaLimit is how many requests /api/quota admits per X-Bucket.
	QuotaLimit = 100
	// LocalLimit is how many requests /api/local admits per X-Bucket on
	// one node while Redis is unreachable (on_backend_error: local).
	LocalLimit = 3
)

// nodeConfig is every node's configuration; the nodes differ only in
// their listeners, data directories and log levels. Limits count by the
// X-Bucket header so each scenario starts from fresh counters. Rolling
// quotas of a day: no calendar edge can fall inside a run.
const nodeConfig = `issuer: $ISSUER
listen: {authz: "$AUTHZ", admin: "$ADMIN", gateway: "$GATEWAY"}
data_dir: $DATA
store: {dsn: $DSN}
tokens: {default_audience: "$AUDIENCE", refresh_reuse_grace: 0s}
keys: {reload_interval: 1s}
policy:
  roles: {staff: [list_items]}
  scopes:
    list_items: {description: List items}
log: {format: json, level: $LEVEL}
shutdown: {drain_delay: 1s, grace: 10s}
ratelimit:
  backend: redis
  redis: {addr: "$REDIS", prefix: $PREFIX, timeout: 100ms}
gateway:
  issuers:
    - issuer: $ISSUER
      client_id: gateway
      client_secret_file: $SECRET
      cache_ttl: 60s
  apis:
    - name: cluster
      base_path: /api
      upstream: $UPSTREAM
      audiences: ["$AUDIENCE"]
      timeouts: {response: 20s}
      operations:
        - {method: GET, path: /items, scopes: [list_items]}
        - {method: GET, path: /slow, scopes: [list_items]}
        - method: GET
          path: /quota
          scopes: [list_items]
          limits: [{name: exact-quota, quota: 100/day, rolling: true, key: ["header:X-Bucket"]}]
        - method: GET
          path: /deny
          scopes: [list_items]
          limits: [{name: mode-deny, quota: 1000000/day, rolling: true, key: ["header:X-Bucket"], on_backend_error: deny}]
        - method: GET
          path: /allow
          scopes: [list_items]
          limits: [{name: mode-allow, quota: 1/day, rolling: true, key: ["header:X-Bucket"], on_backend_error: allow}]
        - method: GET
          path: /local
          scopes: [list_items]
          limits: [{name: mode-local, quota: 3/day, rolling: true, key: ["header:X-Bucket"], on_backend_error: local}]
`

// Upstream is the API's backend: it answers 200 to everything, after
// the delay ?ms= asks for (at most 10 s), and counts what it served.
type Upstream struct {
	URL    string
	Served atomic.Int64
}

// NewUpstream starts the backend; t's cleanup stops it.
func NewUpstream(t testing.TB) *Upstream {
	u := &Upstream{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ms, err := strconv.Atoi(r.URL.Query().Get("ms")); err == nil && ms > 0 {
			select {
			case <-time.After(min(time.Duration(ms)*time.Millisecond, 10*time.Second)):
			case <-r.Context().Done():
				return
			}
		}
		u.Served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

// Form posts form to u, with HTTP Basic client authentication when id is
// set (RFC 6749 §2.3.1), and decodes the JSON answer.
func Form(ctx context.Context, u, id, secret string, form url.Values) (int, http.Header, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, err
	}
	m := map[string]any{}
	if len(body) > 0 && json.Unmarshal(body, &m) != nil {
		m = map[string]any{"_raw": string(body)}
	}
	return resp.StatusCode, resp.Header, m, nil
}

// Token gets an access token for a client-credentials client from the
// authorization server at base (a node, or the issuer's balancer).
func (c *Cluster) Token(ctx context.Context, base, clientID string) (string, error) {
	code, _, m, err := Form(ctx, base+"/oauth2/token", clientID, c.Secrets[clientID],
		url.Values{"grant_type": {"client_credentials"}, "scope": {"list_items"}})
	if err != nil {
		return "", err
	}
	tok, _ := m["access_token"].(string)
	if code != http.StatusOK || tok == "" {
		return "", fmt.Errorf("token for %s at %s: status %d: %v", clientID, base, code, m)
	}
	return tok, nil
}

// Introspect asks the authorization server at base about tok, as the
// gateway client (RFC 7662 §2.1), and returns whether it is active.
func (c *Cluster) Introspect(ctx context.Context, base, tok string) (bool, error) {
	code, _, m, err := Form(ctx, base+"/oauth2/introspect", GatewayClient, c.Secrets[GatewayClient], url.Values{"token": {tok}})
	if err != nil {
		return false, err
	}
	if code != http.StatusOK {
		return false, fmt.Errorf("introspect at %s: status %d: %v", base, code, m)
	}
	active, _ := m["active"].(bool)
	return active, nil
}

// Call sends one GET through the gateway at base with tok and returns
// the status.
func Call(ctx context.Context, base, path, tok string, hdr map[string]string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

// BinaryEnv names a prebuilt binary to run instead of building one, to
// test a release build (or a tree other than the working one).
const BinaryEnv = "PORTCULLIS_CLUSTER_BINARY"

// build compiles ./cmd/portcullis once per test binary: a plain build,
// without -race, so the nodes run as they do in production. Cleanup
// removes it (RemoveBuild, from TestMain).
func build(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(BinaryEnv); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildDir, err = os.MkdirTemp("", "portcullis-cluster-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(buildDir, "portcullis")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/portcullis")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/portcullis: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// RemoveBuild deletes the binary built by Start, if any.
func RemoveBuild() {
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
}

// moduleRoot is the directory of go.mod, upwards from the working
// directory.
func moduleRoot() (string, error) {
	dir, err := filepath.Abs(".")
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Ports are drawn from below Linux's ephemeral range (32768–60999):
// a port the kernel hands out for ":0" (every httptest server of the
// test packages running alongside) could otherwise be taken between this
// check and the node's bind, failing the cluster's start.
const (
	portLow  = 20000
	portHigh = 32000
)

// handedOut remembers the ports given in this process, so two nodes of
// one run never get the same one.
var handedOut sync.Map

// freePort returns a loopback port below the ephemeral range that nothing
// listens on now and that this process has not handed out before.
func freePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		p := portLow + mathrand.IntN(portHigh-portLow)
		if _, taken := handedOut.LoadOrStore(p, true); taken {
			continue
		}
		ln, err := net.Listen("tcp", addr(p))
		if err != nil {
			continue
		}
		ln.Close()
		return p
	}
	t.Fatalf("no free loopback port in %d-%d", portLow, portHigh)
	return 0
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

func random(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// gatewayURLs are the gateway listeners of nodes, or of every gateway.
func (c *Cluster) gatewayURLs(nodes ...*Node) []string {
	if len(nodes) == 0 {
		nodes = c.Gateways
	}
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.GatewayURL
	}
	return urls
}
