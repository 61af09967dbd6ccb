package config

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"

	"github.com/portcullis/portcullis/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with the file at path, rewriting it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// TestLoadValid loads each testdata/valid/*.yaml and compares the
// defaulted config, dumped as YAML, with its .golden file.
func TestLoadValid(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			c, err := Load(file)
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			if c.Issuance() == nil {
				t.Error("Issuance() = nil after a successful Load")
			}
			dump, err := yaml.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", dump)
			// The dump is itself a valid config that reads back the same.
			again, err := Parse("dump.yaml", dump)
			if err != nil {
				t.Fatalf("Parse(dump) error = %v", err)
			}
			if diff := cmp.Diff(c, again, cmpopts.IgnoreUnexported(Config{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("dump round trip mismatch (-loaded +reparsed):\n%s", diff)
			}
		})
	}
}

// TestLoadInvalid loads each testdata/invalid/*.yaml and compares the
// error text with its .golden file.
func TestLoadInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			c, err := Load(file)
			if err == nil {
				t.Fatalf("Load() = %+v, want an error", c)
			}
			if c != nil {
				t.Errorf("Load() returned a config with its error")
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", []byte(err.Error()+"\n"))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("Load() error %T does not hold a *FieldError", err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret@") {
				t.Errorf("Load() error echoes a secret: %v", err)
			}
		})
	}
}

func TestWarehouseExample(t *testing.T) {
	c, err := Load("../../examples/warehouse/portcullis.yaml")
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	wantDesc := map[string]string{
		"list_items":     "See the items in the warehouse",
		"order_item":     "Place orders for warehouse items",
		"patients:read":  "Read the records of your clinic's patients",
		"patients:write": "Add notes to your patients' records",
		"ssn:read":       "Read patients' social security numbers",
	}
	if diff := cmp.Diff(wantDesc, c.ScopeDescriptions()); diff != "" {
		t.Errorf("ScopeDescriptions() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"office", "staff_id"}, c.Policy.ClaimAttributes); diff != "" {
		t.Errorf("ClaimAttributes mismatch (-want +got):\n%s", diff)
	}
	if got, want := c.Tokens.DefaultAudience, "urn:portcullis:api:warehouse"; got != want {
		t.Errorf("tokens.default_audience = %q, want %q", got, want)
	}
	warehouseGateway(t, c)
	clinicGateway(t, c)
	alice := &policy.User{ID: "alice", Roles: []string{"warehouse_admin"}, Attrs: map[string]string{"office": "head"}}
	bob := &policy.User{ID: "bob", Roles: []string{"warehouse_staff"}, Attrs: map[string]string{"office": "regional"}}
	client := []string{"openid", "list_items", "order_item"}
	tests := []struct {
		name string
		user *policy.User
		ip   string
		want []string
	}{
		{"alice from loopback", alice, "127.0.0.1", []string{"openid", "list_items", "order_item"}},
		{"alice from outside", alice, "192.0.2.1", []string{"openid", "list_items"}},
		{"bob from loopback", bob, "127.0.0.1", []string{"openid", "list_items"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := policy.Input{GrantType: "authorization_code", ClientID: "spa", User: tc.user, IP: netip.MustParseAddr(tc.ip), Time: time.Unix(1_700_000_000, 0)}
			got := c.Issuance().Grant(client, client, in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Grant() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// warehouseGateway checks the example's gateway section: the routes of
// DESIGN.md, and an order policy that lets loopback through at any time
// and anyone else only in office hours.
func warehouseGateway(t *testing.T, c *Config) {
	t.Helper()
	g := c.Gateway.Snapshot()
	if len(g.APIs) != 2 || g.APIs[0].Name != "warehouse" {
		t.Fatalf("gateway.apis has %d entries, want the warehouse and the clinic", len(g.APIs))
	}
	api := &g.APIs[0]
	is := g.IssuerFor(api)
	if is == nil || is.Issuer != "http://127.0.0.1:8080" || is.ClientID != "gateway" || is.ClientSecretEnv != "PORTCULLIS_GATEWAY_SECRET" {
		t.Fatalf("IssuerFor(warehouse) = %+v", is)
	}
	type route struct {
		Method, Path string
		Scopes       []string
		Public       bool
	}
	var got []route
	for _, op := range api.Operations {
		got = append(got, route{op.Method, op.Path, op.Scopes, op.Public})
	}
	want := []route{
		{"GET", "/items", []string{"list_items"}, false},
		{"POST", "/orders", []string{"order_item"}, false},
		{"GET", "/health", nil, true},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("operations mismatch (-want +got):\n%s", diff)
	}
	if api.Name != "warehouse" || api.Version != "v1" || api.BasePath != "/warehouse" || api.Upstream != "http://127.0.0.1:9000" {
		t.Errorf("api = %s %s %s %s", api.Name, api.Version, api.BasePath, api.Upstream)
	}
	if diff := cmp.Diff([]string{"urn:portcullis:api:warehouse"}, api.Audiences); diff != "" {
		t.Errorf("audiences mismatch (-want +got):\n%s", diff)
	}
	if api.CORS == nil || !cmp.Equal(api.CORS.AllowedOrigins, []string{"http://127.0.0.1:5173", "http://localhost:5173"}) {
		t.Errorf("cors = %+v", api.CORS)
	}
	rule, err := policy.CompileRequestRule(api.Operations[1].Policy, g.Location())
	if err != nil {
		t.Fatalf("order policy: %v", err)
	}
	sunday3am := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	monday10am := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ip   string
		at   time.Time
		want bool
	}{
		{"loopback at night", "127.0.0.1", sunday3am, true},
		{"ipv6 loopback at night", "::1", sunday3am, true},
		{"office network at night", "10.1.2.3", sunday3am, false},
		{"office network in office hours", "10.1.2.3", monday10am, true},
	} {
		in := &policy.RequestInput{IP: netip.MustParseAddr(tc.ip), Method: "POST", Path: "/warehouse/orders", Time: tc.at}
		if got := rule.Allow(in); got != tc.want {
			t.Errorf("order policy, %s: Allow() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDefault(t *testing.T) {
	want := &Config{
		Issuer: "http://127.0.0.1:8080",
		Listen: Listen{Authz: "127.0.0.1:8080", Admin: "127.0.0.1:8081", Gateway: "127.0.0.1:8000",
			// No listener-wide write timeout on the gateway: each API's
			// timeouts.response bounds its calls.
			GatewayTimeouts: ListenTimeouts{ReadHeader: Duration(5 * time.Second), Read: Duration(30 * time.Second),
				Idle: Duration(120 * time.Second)}},
		DataDir:       "./portcullis-data",
		Store:         Store{DSN: "portcullis-data/portcullis.db"},
		MasterKeyFile: "portcullis-data/master.key",
		Tokens: Tokens{
			AccessTTL:  Duration(15 * time.Minute),
			RefreshTTL: Duration(720 * time.Hour),
			IDTokenTTL: Duration(time.Hour),
			CodeTTL:    Duration(time.Minute),
		},
		Keys:     Keys{AccessAlg: "ES256", IDAlg: "RS256", ReloadInterval: Duration(30 * time.Second)},
		Sessions: Sessions{TTL: Duration(8 * time.Hour)},
		LoginThrottle: LoginThrottle{
			MaxFailures: 5, BaseLock: Duration(30 * time.Second), MaxLock: Duration(15 * time.Minute),
			MaxAddrFailures: 50, AddrWindow: Duration(15 * time.Minute), AddrLock: Duration(15 * time.Minute),
			MaxEntries: 100000,
		},
		DPoP:          DPoP{NonceLifetime: Duration(5 * time.Minute), ProofMaxAge: Duration(time.Minute)},
		Log:           Log{Format: "json", Level: "info"},
		PurgeInterval: Duration(time.Minute),
		RateLimit: RateLimit{
			Backend: "memory",
			Redis:   RateLimitRedis{Addr: "127.0.0.1:6379", Prefix: "pc:", Timeout: Duration(50 * time.Millisecond)},
			Memory:  RateLimitMemory{MaxKeys: 1_000_000},
		},
		Audit:    Audit{Stream: AuditStream{Interval: Duration(time.Second)}},
		Shutdown: Shutdown{Grace: Duration(DefaultShutdownGrace)},
	}
	want.Gateway = Gateway{StripHeaderPrefixes: []string{"X-Portcullis-"}, CatalogPoll: Duration(DefaultCatalogPoll), Group: "default", RateLimit: want.RateLimit}
	got := Default()
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("Default() mismatch (-want +got):\n%s", diff)
	}
	if got.Issuance() != nil {
		t.Error("Issuance() before Validate is not nil")
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("Default().Validate() error = %v", err)
	}
	if got.Issuance() == nil {
		t.Error("Issuance() after Validate is nil")
	}
}

func TestApplyDefaultsKeepsSetFields(t *testing.T) {
	c := &Config{
		Listen:   Listen{Authz: "127.0.0.1:9000"},
		DataDir:  "/data",
		Tokens:   Tokens{AccessTTL: Duration(time.Minute), RefreshReuseGrace: Duration(time.Second)},
		Sessions: Sessions{TTL: Duration(time.Hour)},
	}
	c.ApplyDefaults()
	for _, check := range []struct{ field, got, want string }{
		{"issuer", c.Issuer, "http://127.0.0.1:9000"},
		{"store.dsn", c.Store.DSN, "/data/portcullis.db"},
		{"master_key_file", c.MasterKeyFile, "/data/master.key"},
		{"tokens.access_ttl", c.Tokens.AccessTTL.String(), "1m"},
		{"tokens.refresh_reuse_grace", c.Tokens.RefreshReuseGrace.String(), "1s"},
		{"sessions.ttl", c.Sessions.TTL.String(), "1h"},
		{"listen.admin", c.Listen.Admin, "127.0.0.1:8081"},
	} {
		if check.got != check.want {
			t.Errorf("%s = %q, want %q", check.field, check.got, check.want)
		}
	}
}

// TestValidateInCode edits a Default() config: errors then name just the
// field, with no file or line.
func TestValidateInCode(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"valid edit", func(c *Config) { c.Issuer = "https://auth.example.com"; c.Listen.Authz = "0.0.0.0:443" }, ""},
		{"http issuer", func(c *Config) { c.Issuer = "http://auth.example.com" },
			"issuer: must use https unless the host is a loopback address or localhost (RFC 6749 §3.1, §3.2 require TLS)"},
		{"http ipv6 loopback issuer", func(c *Config) { c.Issuer = "http://[::1]:8080" }, ""},
		{"issuer fragment", func(c *Config) { c.Issuer = "https://auth.example.com#x" },
			"issuer: must not have a query or fragment (RFC 8414 §2)"},
		{"issuer scheme", func(c *Config) { c.Issuer = "ftp://auth.example.com" }, `issuer: scheme "ftp" is not https`},
		{"empty issuer", func(c *Config) { c.Issuer = "" }, "issuer: must not be empty"},
		{"derived issuer on all interfaces", func(c *Config) {
			c.Issuer, c.Listen.Authz = "", ":8080"
			c.ApplyDefaults()
		}, "issuer: has no host; it was derived from listen.authz, set issuer to the server's public https URL"},
		{"access ttl too long", func(c *Config) { c.Tokens.AccessTTL = Duration(25 * time.Hour) },
			"tokens.access_ttl: 25h is too long: at most 24h"},
		{"zero ttl", func(c *Config) { c.Tokens.CodeTTL = 0 }, "tokens.code_ttl: 0s is too short: at least 1s"},
		{"negative grace", func(c *Config) { c.Tokens.RefreshReuseGrace = Duration(-time.Second) },
			"tokens.refresh_reuse_grace: must not be negative"},
		{"bad alg", func(c *Config) { c.Keys.IDAlg = "HS256" }, `keys.id_alg: "HS256" is not one of RS256, ES256, PS256, EdDSA`},
		{"bad condition", func(c *Config) {
			c.Policy.Scopes = map[string]ScopeRule{"s": {Condition: "true &&\n  user.nope"}}
		}, "policy.scopes.s.condition: line 2, column 7: undefined field 'nope'"},
		{"reserved claim", func(c *Config) { c.Policy.ClaimAttributes = []string{"scope"} },
			`policy.claim_attributes[0]: "scope" is a claim Portcullis sets itself; copy the attribute under another name`},
		{"two errors", func(c *Config) { c.Log.Format = "xml"; c.DataDir = "" },
			"data_dir: must not be empty\nlog.format: \"xml\" is not one of json, text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate() error =\n%s\nwant\n%s", got, tc.want)
			}
			if (c.Issuance() == nil) != (err != nil) {
				t.Errorf("Issuance() = %v with Validate() error %v", c.Issuance(), err)
			}
		})
	}
}

// TestConditionErrorPlacement checks that a bad condition is reported at
// the file line of the expression's line, and that the policy error is
// reachable with errors.As.
func TestConditionErrorPlacement(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantLine int
		want     string
	}{
		{"plain", "policy:\n  scopes:\n    s:\n      condition: user.rolez == []\n", 4,
			"c.yaml:4: policy.scopes.s.condition: column 5: undefined field 'rolez'"},
		{"quoted", "policy:\n  scopes:\n    s: {condition: \"1 + 1\"}\n", 3,
			"c.yaml:3: policy.scopes.s.condition: column 1: condition must be a bool expression, not int"},
		{"literal block", "policy:\n  scopes:\n    s:\n      condition: |\n        true &&\n        true &&\n          usr\n", 7,
			"c.yaml:7: policy.scopes.s.condition: column 3: undeclared reference to 'usr' (did you mean 'user'?)"},
		{"literal block first line", "policy:\n  scopes:\n    s:\n      condition: |-\n        nope\n", 5,
			"c.yaml:5: policy.scopes.s.condition: column 1: undeclared reference to 'nope'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Parse() error = %v, want %s", err, tc.want)
			}
			var fe *FieldError
			var ce *policy.CompileError
			if !errors.As(err, &fe) || fe.Line != tc.wantLine {
				t.Errorf("FieldError = %+v, want line %d", fe, tc.wantLine)
			}
			if !errors.As(err, &ce) || ce.Scope != "s" {
				t.Errorf("errors.As(*policy.CompileError) = %v, want scope s", ce)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want os.ErrNotExist", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", maxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(big)
	if want := big + ": file is larger than 1048576 bytes"; err == nil || err.Error() != want {
		t.Errorf("Load(big) error = %v, want %s", err, want)
	}
}

func TestLogSlogLevel(t *testing.T) {
	for level, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR", "": "INFO"} {
		if got := (Log{Level: level}).SlogLevel().String(); got != want {
			t.Errorf("Log{Level: %q}.SlogLevel() = %s, want %s", level, got, want)
		}
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		err  FieldError
		want string
	}{
		{FieldError{File: "a.yaml", Line: 3, Field: "x.y", Msg: "bad"}, "a.yaml:3: x.y: bad"},
		{FieldError{File: "a.yaml", Field: "x.y", Msg: "bad"}, "a.yaml: x.y: bad"},
		{FieldError{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{FieldError{Field: "x.y", Msg: "bad"}, "x.y: bad"},
		{FieldError{Line: 3, Field: "x.y", Msg: "bad"}, "line 3: x.y: bad"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

// clinicGateway checks the example's second API: the clinic's records,
// protected going in (validation, the WAF) and coming out (field rules).
func clinicGateway(t *testing.T, c *Config) {
	t.Helper()
	g := c.Gateway.Snapshot()
	api := &g.APIs[1]
	if api.Name != "clinic" || api.BasePath != "/clinic" || !slices.Equal(api.Audiences, []string{"urn:portcullis:api:clinic"}) {
		t.Fatalf("second API = %s %s %v, want the clinic", api.Name, api.BasePath, api.Audiences)
	}
	if api.Validation == nil || api.Validation.Mode != "enforce" || api.WAF == nil || api.WAF.Mode != "block" {
		t.Errorf("clinic validation %+v, waf %+v; want enforce and block", api.Validation, api.WAF)
	}
	list := api.Operations[0]
	if list.Response == nil || list.Response.FilterPath != "$.patients[*]" || len(list.Response.Fields) != 2 {
		t.Fatalf("GET /patients response rules = %+v", list.Response)
	}
	if f := list.Response.Fields[1]; f.Action != "encrypt" || f.KeyEnv != "PORTCULLIS_CLINIC_FIELD_KEY" {
		t.Errorf("ssn rule = %+v, want encrypt under PORTCULLIS_CLINIC_FIELD_KEY", f)
	}
	// The roles that reach the clinic's scopes.
	doctor := &policy.User{ID: "grey", Roles: []string{"doctor"}, Attrs: map[string]string{"staff_id": "D-1001"}}
	rita := &policy.User{ID: "rita", Roles: []string{"receptionist", "billing"}}
	asked := []string{"openid", "patients:read", "patients:write", "ssn:read"}
	for _, tc := range []struct {
		user *policy.User
		want []string
	}{
		{doctor, []string{"openid", "patients:read", "patients:write"}},
		{rita, []string{"openid", "patients:read", "ssn:read"}},
	} {
		in := policy.Input{GrantType: "authorization_code", ClientID: "clinic-app", User: tc.user, IP: netip.MustParseAddr("127.0.0.1"), Time: time.Unix(1_700_000_000, 0)}
		if diff := cmp.Diff(tc.want, c.Issuance().Grant(asked, asked, in)); diff != "" {
			t.Errorf("%s: Grant() mismatch (-want +got):\n%s", tc.user.ID, diff)
		}
	}
}
