package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis/portcullis/internal/demo"
)

// clinicRun is a running demo, for the clinic API's walkthrough.
type clinicRun struct {
	t       *testing.T
	dir     string
	file    *demo.File
	gateway string
}

// startClinic starts `portcullis demo` on loopback ports in a fresh
// directory: the real authorization server, gateway and clinic backend.
func startClinic(t *testing.T) *clinicRun {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "demo")
	opts := demo.Options{Dir: dir, AuthzAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", BackendAddr: "127.0.0.1:0", SPAAddr: "127.0.0.1:0"}
	r, f, err := demo.Start(t.Context(), opts, demo.Env{Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &clinicRun{t: t, dir: dir, file: f, gateway: r.GatewayURL}
}

// userToken signs username in to clinic-app through the login and consent
// pages, as a browser would, and exchanges the code with
// golang.org/x/oauth2 (PKCE S256).
func (c *clinicRun) userToken(username string) string {
	c.t.Helper()
	app, u := c.file.Client("clinic-app"), c.file.User(username)
	if app == nil || u == nil {
		c.t.Fatalf("demo.json has no clinic-app client or no user %s", username)
	}
	conf := &oauth2.Config{
		ClientID: app.ClientID, ClientSecret: app.ClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: c.file.Endpoints.Authorization, TokenURL: c.file.Endpoints.Token, AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL: app.RedirectURIs[0],
		Scopes:      strings.Fields(app.Scope),
	}
	verifier := oauth2.GenerateVerifier()
	q := newBrowser(c.t).login(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "n-"+username)), u.Username, u.Password, "allow")
	if q.Get("code") == "" || q.Get("state") != "st" {
		c.t.Fatalf("login of %s: redirect %v, want a code and the state", username, q)
	}
	tok, err := conf.Exchange(c.t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		c.t.Fatalf("code exchange for %s: %v", username, err)
	}
	return tok.AccessToken
}

// call sends one request to the gateway and returns the status, the
// Content-Type and the body.
func (c *clinicRun) call(method, path, bearer, body string) (int, string, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.gateway+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// patients lists the clinic's records as the bearer reads them.
func (c *clinicRun) patients(bearer string) []map[string]any {
	c.t.Helper()
	status, _, body := c.call(http.MethodGet, "/clinic/patients", bearer, "")
	if status != http.StatusOK {
		c.t.Fatalf("GET /clinic/patients: status %d: %s", status, body)
	}
	var doc struct {
		Patients []map[string]any `json:"patients"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		c.t.Fatalf("patients: %v: %s", err, body)
	}
	return doc.Patients
}

func ids(ps []map[string]any) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p["id"].(string))
	}
	return out
}

// decryptField opens a field the gateway encrypted (JWE compact, dir +
// A256GCM) with the demo's key file, independently of the gateway's code.
func (c *clinicRun) decryptField(v any) string {
	c.t.Helper()
	s, ok := v.(string)
	if !ok || strings.Count(s, ".") != 4 {
		c.t.Fatalf("field %v is not a JWE compact serialization", v)
	}
	raw, err := os.ReadFile(filepath.Join(c.dir, "clinic-field.key"))
	if err != nil {
		c.t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		c.t.Fatal(err)
	}
	jwe, err := jose.ParseEncryptedCompact(s, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		c.t.Fatalf("parse JWE: %v", err)
	}
	plain, err := jwe.Decrypt(key)
	if err != nil {
		c.t.Fatalf("decrypt with the demo's key: %v", err)
	}
	var out string
	if err := json.Unmarshal(plain, &out); err != nil {
		c.t.Fatalf("plaintext %q is not a JSON string: %v", plain, err)
	}
	return out
}

// TestClinicResponsesByClaims walks the clinic API of the demo through
// real servers: the backend answers every record in full, and each
// caller reads only what the gateway's response rules let them.
func TestClinicResponsesByClaims(t *testing.T) {
	c := startClinic(t)
	grey, house, rita := c.userToken("dr-grey"), c.userToken("dr-house"), c.userToken("rita")

	t.Run("a doctor sees her own patients, diagnosis and an encrypted ssn", func(t *testing.T) {
		ps := c.patients(grey)
		if got, want := ids(ps), []string{"P-0001", "P-0003"}; !slices.Equal(got, want) {
			t.Fatalf("dr-grey sees %v, want %v", got, want)
		}
		for _, p := range ps {
			if p["diagnosis"] == nil {
				t.Errorf("%s: a doctor's view lost the diagnosis: %v", p["id"], p)
			}
			if ssn := c.decryptField(p["ssn"]); !strings.HasPrefix(ssn, "900-12-000") {
				t.Errorf("%s: decrypted ssn %q", p["id"], ssn)
			}
		}
		if got := ids(c.patients(house)); !slices.Equal(got, []string{"P-0002", "P-0004"}) {
			t.Errorf("dr-house sees %v, want P-0002 and P-0004", got)
		}
	})

	t.Run("a receptionist with billing sees every patient, no diagnosis, the ssn in clear", func(t *testing.T) {
		ps := c.patients(rita)
		if got := ids(ps); len(got) != 4 {
			t.Fatalf("rita sees %v, want all four patients", got)
		}
		for _, p := range ps {
			if _, ok := p["diagnosis"]; ok {
				t.Errorf("%s: a receptionist sees the diagnosis", p["id"])
			}
			if ssn, _ := p["ssn"].(string); !strings.HasPrefix(ssn, "900-12-") {
				t.Errorf("%s: ssn %v, want it in clear", p["id"], p["ssn"])
			}
		}
	})

	t.Run("a token for another API is refused", func(t *testing.T) {
		svc := c.file.Client("warehouse-service")
		cc := &clientcredentials.Config{ClientID: svc.ClientID, ClientSecret: svc.ClientSecret, TokenURL: c.file.Endpoints.Token}
		tok, err := cc.Token(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if status, _, body := c.call(http.MethodGet, "/clinic/patients", tok.AccessToken, ""); status != http.StatusUnauthorized {
			t.Errorf("warehouse token at the clinic: status %d: %s, want 401", status, body)
		}
	})

	t.Run("notes: contract, injection and scope are checked before the backend", func(t *testing.T) {
		ok := `{"text":"Peak flow improved"}`
		if status, _, body := c.call(http.MethodPost, "/clinic/patients/P-0001/notes", grey, ok); status != http.StatusCreated {
			t.Fatalf("dr-grey's note: status %d: %s", status, body)
		}
		refused := []struct {
			name, path, bearer, body string
			status                   int
			want                     string
		}{
			{"schema", "/clinic/patients/P-0001/notes", grey, `{"text":1}`, http.StatusBadRequest, "/text"},
			{"extra member", "/clinic/patients/P-0001/notes", grey, `{"text":"a","doctor_id":"D-1002"}`, http.StatusBadRequest, "doctor_id"},
			{"path parameter", "/clinic/patients/0001/notes", grey, ok, http.StatusBadRequest, "id"},
			{"SQL injection", "/clinic/patients/P-0001/notes", grey, `{"text":"x' UNION SELECT password FROM users--"}`, http.StatusForbidden, ""},
			{"no write scope", "/clinic/patients/P-0001/notes", rita, ok, http.StatusForbidden, ""},
			{"another doctor's patient (the backend)", "/clinic/patients/P-0002/notes", grey, ok, http.StatusForbidden, ""},
		}
		for _, tc := range refused {
			status, ctype, body := c.call(http.MethodPost, tc.path, tc.bearer, tc.body)
			if status != tc.status || !strings.Contains(string(body), tc.want) {
				t.Errorf("%s: status %d %s: %s; want %d mentioning %q", tc.name, status, ctype, body, tc.status, tc.want)
			}
			if strings.Contains(string(body), "UNION") || strings.Contains(string(body), "password") {
				t.Errorf("%s: the refusal echoes the attack: %s", tc.name, body)
			}
		}
		var notes []any
		for _, p := range c.patients(grey) {
			if p["id"] == "P-0001" {
				notes, _ = p["notes"].([]any)
			}
		}
		if len(notes) != 1 {
			t.Errorf("P-0001 has %d notes, want only the accepted one: %v", len(notes), notes)
		}
	})
}
