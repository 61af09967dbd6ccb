package gateway

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/catalog"
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
		// The receptionist's call: two ssn and two diagnoses removed.
		if want := map[string]float64{"remove": 4, "encrypt": 0, "filter": 0}; !maps.Equal(got, want) {
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
