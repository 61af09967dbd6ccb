package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/fieldrules"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
)

const clinicPatients = `{"patients":[
 {"id":1,"doctor_id":"dr-lee","ssn":"111-11-1111","diagnosis":"asthma"},
 {"id":2,"doctor_id":"dr-kim","ssn":"222-22-2222","diagnosis":"flu"}]}`

var clinicKey = bytes.Repeat([]byte{0x42}, 32)

// newClinicEnv is the warehouse env with GET /patients protected by the
// issue's field rules, its upstream answering with body as ctype
// (gzipped when the request allows it and gz is set).
func newClinicEnv(t *testing.T, ctype, body string, gz bool) *env {
	t.Helper()
	e := newEnvWith(t, func(s *catalog.Snapshot) {
		s.APIs[0].Operations = append(s.APIs[0].Operations, catalog.Operation{
			Method: "GET", Path: "/patients", Scopes: []string{"patients:read"},
			Response: &catalog.ResponseRules{
				Filter:     `!("doctor" in claims.roles) || element.doctor_id == claims.sub`,
				FilterPath: "$.patients[*]",
				Fields: []catalog.FieldRule{
					{Select: "$.patients[*].ssn", Action: "remove", Unless: `"ssn:read" in claims.scope.split(" ")`},
					{Select: "$.patients[*].diagnosis", Action: "remove", When: `"receptionist" in claims.roles`},
					{Select: "$.patients[*].ssn", Action: "encrypt", KeyEnv: "CLINIC_FIELD_KEY"},
				},
			},
		})
	}, func(o *Options) {
		prev := o.Getenv
		o.Getenv = func(name string) string {
			if name == "CLINIC_FIELD_KEY" {
				return base64.StdEncoding.EncodeToString(clinicKey)
			}
			return prev(name)
		}
	})
	e.up.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Etag", `"v1"`)
		if gz && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = zw.Write([]byte(body))
			_ = zw.Close()
			return
		}
		_, _ = w.Write([]byte(body))
	})
	return e
}

func (e *env) clinicToken(t *testing.T, sub, scope string, roles ...string) string {
	t.Helper()
	r := make([]any, len(roles))
	for i, x := range roles {
		r[i] = x
	}
	return e.is.JWT(t, gatewaytest.Claims{Subject: sub, ClientID: "spa", Scope: scope, Audience: []string{"warehouse"},
		Extra: map[string]any{"roles": r}})
}

type patientDoc struct {
	Patients []map[string]any `json:"patients"`
}

func TestFieldRulesThroughGateway(t *testing.T) {
	for _, gz := range []bool{false, true} {
		e := newClinicEnv(t, "application/json; charset=utf-8", clinicPatients, gz)
		t.Run("doctor/gzip="+map[bool]string{false: "no", true: "yes"}[gz], func(t *testing.T) {
			r := request("GET", "/warehouse/patients", e.clinicToken(t, "dr-lee", "patients:read ssn:read", "doctor"))
			r.Header.Set("Accept-Encoding", "gzip")
			w := e.serve(r)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %s)", w.Code, w.Body)
			}
			if ce := w.Header().Get("Content-Encoding"); ce != "" {
				t.Errorf("Content-Encoding = %q, want none", ce)
			}
			if et := w.Header().Get("Etag"); et != "" {
				t.Errorf("Etag = %q survived a rewrite", et)
			}
			var doc patientDoc
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if len(doc.Patients) != 1 || doc.Patients[0]["doctor_id"] != "dr-lee" {
				t.Fatalf("doctor sees %v, want only their patient", doc.Patients)
			}
			jwe, err := jose.ParseEncryptedCompact(doc.Patients[0]["ssn"].(string),
				[]jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
			if err != nil {
				t.Fatalf("ssn is not a JWE: %v", err)
			}
			plain, err := jwe.Decrypt(clinicKey)
			if err != nil || string(plain) != `"111-11-1111"` {
				t.Errorf("decrypted ssn = %q, %v; want \"111-11-1111\"", plain, err)
			}
			if got := w.Header().Get("Content-Length"); got != "" && got != itoaTest(w.Body.Len()) {
				t.Errorf("Content-Length = %s, body %d bytes", got, w.Body.Len())
			}
		})
	}

	e := newClinicEnv(t, "application/json", clinicPatients, false)
	t.Run("receptionist", func(t *testing.T) {
		w := e.serve(request("GET", "/warehouse/patients", e.clinicToken(t, "rita", "patients:read", "receptionist")))
		if w.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200 (body %s)", w.Code, w.Body)
		}
		body := w.Body.String()
		if !strings.Contains(body, `"dr-kim"`) || strings.Contains(body, "diagnosis") || strings.Contains(body, "ssn") {
			t.Errorf("receptionist sees %s; want both patients without diagnosis or ssn", body)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		got := fieldMetrics(t, e)
		// The receptionist's call: two ssn and two diagnoses removed.
		if want := map[string]float64{"remove": 4, "encrypt": 0, "filter": 0, "encrypt_no_key": 0}; !maps.Equal(got, want) {
			t.Errorf("fields_rewritten_total = %v, want %v", got, want)
		}
	})
	t.Run("other operations untouched", func(t *testing.T) {
		w := e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items")))
		if w.Code != http.StatusOK || w.Body.String() != clinicPatients {
			t.Errorf("GET /items = %d %q, want the upstream's body as it was", w.Code, w.Body)
		}
	})
}

func TestFieldRulesFailClosed(t *testing.T) {
	tests := []struct{ name, ctype, body string }{
		{"html", "text/html", "<html>" + clinicPatients + "</html>"},
		{"json type, not json", "application/json", "patients: dr-kim 222-22-2222"},
		{"no type", "", clinicPatients},
		{"array where the filter needs one is an object", "application/json", `{"patients":{"doctor_id":"dr-kim","ssn":"222-22-2222"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newClinicEnv(t, tt.ctype, tt.body, false)
			w := e.serve(request("GET", "/warehouse/patients", e.clinicToken(t, "dr-lee", "patients:read", "doctor")))
			if w.Code != http.StatusBadGateway {
				t.Fatalf("status = %d, want 502 (body %s)", w.Code, w.Body)
			}
			readProblem(t, w)
			if strings.Contains(w.Body.String(), "222-22-2222") {
				t.Errorf("502 leaks the upstream body: %s", w.Body)
			}
		})
	}
}

func itoaTest(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// fakeClientKeys answers ClientKeys from a map; err, when set, is every
// answer (the store is down). calls counts lookups.
type fakeClientKeys struct {
	mu    sync.Mutex
	sets  map[string]*jose.JSONWebKeySet
	err   error
	calls int
}

func (f *fakeClientKeys) ClientKeys(_ context.Context, clientID string) (*jose.JSONWebKeySet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if s, ok := f.sets[clientID]; ok {
		return s, nil
	}
	return nil, ErrNoClientKeys
}

// newClientEncryptEnv is the clinic's GET /patients with ssn encrypted
// to the calling client, and its upstream counting calls.
func newClientEncryptEnv(t *testing.T, keys ClientKeys) (*env, *atomic.Int32) {
	t.Helper()
	e := newEnvWith(t, func(s *catalog.Snapshot) {
		s.APIs[0].Operations = append(s.APIs[0].Operations, catalog.Operation{
			Method: "GET", Path: "/patients", Scopes: []string{"patients:read"},
			Response: &catalog.ResponseRules{Fields: []catalog.FieldRule{
				{Select: "$.patients[*].ssn", Action: "encrypt", Recipient: "client"},
			}},
		})
	}, func(o *Options) { o.ClientKeys = keys })
	var calls atomic.Int32
	e.up.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(clinicPatients))
	})
	return e, &calls
}

func (e *env) clientToken(t *testing.T, clientID string) string {
	t.Helper()
	return e.is.JWT(t, gatewaytest.Claims{Subject: "u-" + clientID, ClientID: clientID, Scope: "patients:read",
		Audience: []string{"warehouse"}})
}

func TestFieldRulesEncryptToClient(t *testing.T) {
	privA, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sigOnly, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := &fakeClientKeys{sets: map[string]*jose.JSONWebKeySet{
		"app-a": {Keys: []jose.JSONWebKey{{Key: &privA.PublicKey, KeyID: "a-enc-1", Use: "enc", Algorithm: string(jose.ECDH_ES_A256KW)}}},
		"app-c": {Keys: []jose.JSONWebKey{{Key: &privC.PublicKey, KeyID: "c-enc", Use: "enc"}}},
		// A client that registered only a signing key has nothing to
		// encrypt to.
		"app-s": {Keys: []jose.JSONWebKey{{Key: &sigOnly.PublicKey, KeyID: "s-sig", Use: "sig"}}},
	}}
	e, _ := newClientEncryptEnv(t, keys)

	t.Run("client A reads its field", func(t *testing.T) {
		w := e.serve(request("GET", "/warehouse/patients", e.clientToken(t, "app-a")))
		if w.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200 (body %s)", w.Code, w.Body)
		}
		var doc patientDoc
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Patients) != 2 {
			t.Fatalf("patients = %v", doc.Patients)
		}
		s, _ := doc.Patients[0]["ssn"].(string)
		jwe, err := jose.ParseEncryptedCompact(s, []jose.KeyAlgorithm{jose.ECDH_ES_A256KW}, []jose.ContentEncryption{jose.A256GCM})
		if err != nil {
			t.Fatalf("ssn %q is not an ECDH-ES+A256KW JWE: %v", s, err)
		}
		if jwe.Header.KeyID != "a-enc-1" {
			t.Errorf("kid = %q, want a-enc-1", jwe.Header.KeyID)
		}
		plain, err := jwe.Decrypt(privA)
		if err != nil || string(plain) != `"111-11-1111"` {
			t.Errorf("A decrypts %q, %v; want \"111-11-1111\"", plain, err)
		}
		// Another client's key opens nothing.
		if _, err := jwe.Decrypt(privC); err == nil {
			t.Error("client C's key decrypts client A's field")
		}
	})
	for i, id := range []string{"app-b", "app-s"} {
		t.Run(id+" without an encryption key", func(t *testing.T) {
			w := e.serve(request("GET", "/warehouse/patients", e.clientToken(t, id)))
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %s)", w.Code, w.Body)
			}
			body := w.Body.String()
			if strings.Contains(body, "ssn") || strings.Contains(body, "111-11-1111") || !strings.Contains(body, "dr-kim") {
				t.Errorf("body = %s, want every patient without ssn", body)
			}
			if n := strings.Count(e.logs.String(), `"reason":"encrypt_no_key"`); n != i+1 {
				t.Errorf("access log says encrypt_no_key %d times, want %d:\n%s", n, i+1, e.logs)
			}
		})
	}
	t.Run("metrics", func(t *testing.T) {
		got := fieldMetrics(t, e)
		if want := map[string]float64{"remove": 0, "encrypt": 2, "filter": 0, "encrypt_no_key": 4}; !maps.Equal(got, want) {
			t.Errorf("fields_rewritten_total = %v, want %v", got, want)
		}
	})
}

func TestFieldRulesClientKeysDown(t *testing.T) {
	keys := &fakeClientKeys{err: errors.New("database is locked")}
	e, upstreamCalls := newClientEncryptEnv(t, keys)
	w := e.serve(request("GET", "/warehouse/patients", e.clientToken(t, "app-a")))
	if w.Code != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502 (body %s)", w.Code, w.Body)
	}
	readProblem(t, w)
	if strings.Contains(w.Body.String(), "111-11") || strings.Contains(w.Body.String(), "locked") {
		t.Errorf("502 leaks: %s", w.Body)
	}
	if n := upstreamCalls.Load(); n != 0 {
		t.Errorf("upstream called %d times; the keys are fetched first", n)
	}
	if !strings.Contains(e.logs.String(), "database is locked") {
		t.Errorf("the cause is not logged:\n%s", e.logs)
	}
	// The rest of the API does not depend on client keys.
	if w := e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items"))); w.Code != http.StatusOK {
		t.Errorf("GET /items = %d, want 200", w.Code)
	}
}

func TestFieldRulesClientKeyFetchedOncePerResponse(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := &fakeClientKeys{sets: map[string]*jose.JSONWebKeySet{
		"app-a": {Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: "k", Use: "enc"}}}}}
	e, _ := newClientEncryptEnv(t, keys)
	if w := e.serve(request("GET", "/warehouse/patients", e.clientToken(t, "app-a"))); w.Code != http.StatusOK {
		t.Fatalf("status = %d", w.Code)
	}
	if keys.calls != 1 {
		t.Errorf("ClientKeys called %d times for one response of two fields, want 1", keys.calls)
	}
	// Operations that do not encrypt to the client never ask.
	e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items")))
	if keys.calls != 1 {
		t.Errorf("ClientKeys called for an operation without such rules")
	}
}

func TestFieldRulesClientRecipientNeedsKeySource(t *testing.T) {
	is, up := gatewaytest.NewIssuer(t), gatewaytest.NewUpstream(t)
	cfg := warehouseConfig(is, up)
	cfg.APIs[0].Operations = append(cfg.APIs[0].Operations, catalog.Operation{
		Method: "GET", Path: "/patients", Scopes: []string{"patients:read"},
		Response: &catalog.ResponseRules{Fields: []catalog.FieldRule{{Select: "$.patients[*].ssn", Action: "encrypt", Recipient: "client"}}},
	})
	_, err := New(t.Context(), Options{Catalog: cfg, Getenv: func(string) string { return is.ClientSecret },
		Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "recipient client") {
		t.Errorf("New without ClientKeys = %v, want an error naming recipient client", err)
	}
}

func TestFieldRulesAPIKeyID(t *testing.T) {
	e := newEnvWith(t, func(s *catalog.Snapshot) {
		s.APIs[0].Operations = append(s.APIs[0].Operations, catalog.Operation{
			Method: "GET", Path: "/patients", Scopes: []string{"patients:read"},
			Response: &catalog.ResponseRules{Fields: []catalog.FieldRule{
				{Select: "$.patients[*].ssn", Action: "encrypt", KeyEnv: "CLINIC_FIELD_KEY", KeyID: "clinic-2026-05"},
			}},
		})
	}, func(o *Options) {
		prev := o.Getenv
		o.Getenv = func(name string) string {
			if name == "CLINIC_FIELD_KEY" {
				return base64.StdEncoding.EncodeToString(clinicKey)
			}
			return prev(name)
		}
	})
	e.up.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(clinicPatients))
	})
	w := e.serve(request("GET", "/warehouse/patients", e.clientToken(t, "app-a")))
	var doc patientDoc
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || len(doc.Patients) == 0 {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	jwe, err := jose.ParseEncryptedCompact(doc.Patients[0]["ssn"].(string), []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatal(err)
	}
	if jwe.Header.KeyID != "clinic-2026-05" {
		t.Errorf("kid = %q, want clinic-2026-05", jwe.Header.KeyID)
	}
}

// fieldMetrics sums portcullis_gateway_fields_rewritten_total of GET
// /patients by action.
func fieldMetrics(t *testing.T, e *env) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "portcullis_gateway_fields_rewritten_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["api"] == "warehouse" && labels["operation"] == "GET /patients" {
				got[labels["action"]] += m.GetCounter().GetValue()
			}
		}
	}
	return got
}

// benchPatients is the load harness's answer (bench/baseline): 2 KB of
// patient records, half of them of doctor D-1.
func benchPatients() []byte {
	var b strings.Builder
	b.WriteString(`{"patients":[`)
	for i := 0; b.Len() < 1950; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"P-%04d","name":"Patient %d","doctor_id":"D-%d","diagnosis":"Seasonal asthma","ssn":"900-12-%04d"}`, i, i, 1+i%2, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkFieldRulesStep is the response side of the harness's
// protected route (bench/gateway.sh): the 2 KB answer read, filtered to
// D-1's patients, diagnoses removed, ssn encrypted, handed on.
func BenchmarkFieldRulesStep(b *testing.B) {
	rules, err := fieldrules.Compile(fieldrules.Spec{
		Filter:     `element.doctor_id == "D-1" || "admin" in claims.scope.split(" ")`,
		FilterPath: "$.patients[*]",
		Fields: []fieldrules.FieldSpec{
			{Select: "$.patients[*].diagnosis", Action: fieldrules.ActionRemove, Unless: `"diagnosis" in claims.scope.split(" ")`},
			{Select: "$.patients[*].ssn", Action: fieldrules.ActionEncrypt, Key: clinicKey},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	body := benchPatients()
	call := &fieldCall{step: &fieldRulesStep{rules: rules}, ex: &exchange{},
		claims: map[string]any{"iss": "http://127.0.0.1:8080", "sub": "svc-jwt", "client_id": "svc-jwt",
			"aud": []any{"urn:portcullis:api:bench"}, "scope": "list_items", "jti": "2b0c6f0e", "iat": 1.7e9, "exp": 1.7e9 + 300}}
	req := httptest.NewRequest("POST", "/prot/lite/orders", nil)
	req = req.WithContext(context.WithValue(req.Context(), fieldCallKey{}, call))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		res := &http.Response{StatusCode: 200, Request: req, ContentLength: int64(len(body)),
			Header: http.Header{"Content-Type": {"application/json"}, "Etag": {`"v1"`}},
			Body:   io.NopCloser(bytes.NewReader(body))}
		if err := rewriteFields(res); err != nil {
			b.Fatal(err)
		}
		// The proxy copies the body out and closes it.
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			b.Fatal(err)
		}
		_ = res.Body.Close()
	}
}
