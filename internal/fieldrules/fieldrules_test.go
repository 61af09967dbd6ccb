package fieldrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

const patients = `{"clinic":"north","patients":[
 {"id":9007199254740993,"name":"Ann","doctor_id":"dr-lee","ssn":"111-11-1111","diagnosis":"asthma"},
 {"id":2,"name":"Bob","doctor_id":"dr-kim","ssn":"222-22-2222","diagnosis":"flu"},
 {"id":3,"name":"Cid","doctor_id":"dr-lee","ssn":"333-33-3333","diagnosis":"<none>"}]}`

var testKey = bytes.Repeat([]byte{7}, KeySize)

// clinicSpec is the example: doctors see their own patients,
// receptionists see no diagnosis, ssn is removed without ssn:read and
// encrypted otherwise.
func clinicSpec() Spec {
	return Spec{
		Filter:     `!("doctor" in claims.roles) || element.doctor_id == claims.sub`,
		FilterPath: "$.patients[*]",
		Fields: []FieldSpec{
			{Select: "$.patients[*].ssn", Action: ActionRemove, Unless: `"ssn:read" in claims.scope.split(" ")`},
			{Select: "$.patients[*].diagnosis", Action: ActionRemove, When: `"receptionist" in claims.roles`},
			{Select: "$.patients[*].ssn", Action: ActionEncrypt, Key: testKey},
		},
	}
}

func mustCompile(t *testing.T, s Spec) *Rules {
	t.Helper()
	r, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return r
}

func decodeDoc(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("result %q is not JSON: %v", b, err)
	}
	return m
}

func open(t *testing.T, v any) any {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("encrypted field is %T, want a string", v)
	}
	obj, err := jose.ParseEncryptedCompact(s, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatalf("ParseEncryptedCompact: %v", err)
	}
	plain, err := obj.Decrypt(testKey)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	var out any
	if err := json.Unmarshal(plain, &out); err != nil {
		t.Fatalf("plaintext %q: %v", plain, err)
	}
	return out
}

func TestApplyClinic(t *testing.T) {
	r := mustCompile(t, clinicSpec())
	doctor := map[string]any{"sub": "dr-lee", "roles": []any{"doctor"}, "scope": "patients:read ssn:read"}
	doctorNoSSN := map[string]any{"sub": "dr-lee", "roles": []any{"doctor"}, "scope": "patients:read"}
	reception := map[string]any{"sub": "rita", "roles": []any{"receptionist"}, "scope": "patients:read"}

	t.Run("doctor", func(t *testing.T) {
		out, n, err := r.Apply([]byte(patients), doctor, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Counts{Dropped: 1, Encrypted: 2}); n != want {
			t.Errorf("counts = %+v, want %+v", n, want)
		}
		doc := decodeDoc(t, out)
		ps := doc["patients"].([]any)
		if len(ps) != 2 {
			t.Fatalf("doctor sees %d patients, want 2: %s", len(ps), out)
		}
		first := ps[0].(map[string]any)
		// An id above 2^53 survives exactly.
		if got := first["id"].(json.Number).String(); got != "9007199254740993" {
			t.Errorf("id = %s, want 9007199254740993", got)
		}
		if got := open(t, first["ssn"]); got != "111-11-1111" {
			t.Errorf("decrypted ssn = %v, want 111-11-1111", got)
		}
		if first["diagnosis"] != "asthma" {
			t.Errorf("diagnosis = %v, want asthma", first["diagnosis"])
		}
		if !bytes.Contains(out, []byte(`"<none>"`)) {
			t.Errorf("HTML characters escaped in %s", out)
		}
	})
	t.Run("doctor without ssn:read", func(t *testing.T) {
		out, n, err := r.Apply([]byte(patients), doctorNoSSN, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Counts{Dropped: 1, Removed: 2}); n != want {
			t.Errorf("counts = %+v, want %+v", n, want)
		}
		if bytes.Contains(out, []byte("ssn")) || bytes.Contains(out, []byte("dr-kim")) {
			t.Errorf("result leaks: %s", out)
		}
	})
	t.Run("receptionist", func(t *testing.T) {
		out, n, err := r.Apply([]byte(patients), reception, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Counts{Removed: 6}); n != want {
			t.Errorf("counts = %+v, want %+v", n, want)
		}
		doc := decodeDoc(t, out)
		ps := doc["patients"].([]any)
		if len(ps) != 3 {
			t.Fatalf("receptionist sees %d patients, want 3", len(ps))
		}
		for _, p := range ps {
			m := p.(map[string]any)
			if _, ok := m["diagnosis"]; ok {
				t.Errorf("receptionist sees a diagnosis: %s", out)
			}
			if _, ok := m["ssn"]; ok {
				t.Errorf("receptionist sees an ssn: %s", out)
			}
		}
	})
	t.Run("no claims", func(t *testing.T) {
		// Every condition fails to evaluate: everything is protected.
		out, _, err := r.Apply([]byte(patients), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(out); got != `{"clinic":"north","patients":[]}` {
			t.Errorf("result = %s, want no patients", got)
		}
	})
}

func TestApplyUnchanged(t *testing.T) {
	r := mustCompile(t, clinicSpec())
	in := []byte(`{"b":1, "a":{"x":[1,2]}}`)
	out, n, err := r.Apply(in, map[string]any{"sub": "dr-lee", "roles": []any{"doctor"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != (Counts{}) || !bytes.Equal(out, in) {
		t.Errorf("Apply changed a document no rule selects: %s (%+v)", out, n)
	}
}

func TestApplyRootArray(t *testing.T) {
	r := mustCompile(t, Spec{Filter: `element.owner == claims.sub`, FilterPath: "$[*]",
		Fields: []FieldSpec{{Select: "$[*].secret", Action: ActionRemove}}})
	out, _, err := r.Apply([]byte(`[{"owner":"a","secret":1},{"owner":"b"},7]`), map[string]any{"sub": "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `[{"owner":"a"}]`; got != want {
		t.Errorf("result = %s, want %s", got, want)
	}
}

func TestApplyRefuses(t *testing.T) {
	r := mustCompile(t, clinicSpec())
	big := mustCompile(t, Spec{MaxBodyBytes: 10, Fields: []FieldSpec{{Select: "$.a", Action: ActionRemove}}})
	tests := []struct {
		name  string
		rules *Rules
		body  string
		want  error
	}{
		{"html", r, "<html>patients</html>", ErrNotJSON},
		{"truncated", r, `{"patients":[`, ErrNotJSON},
		{"two documents", r, `{} {"patients":[]}`, ErrNotJSON},
		{"empty", r, ``, ErrNotJSON},
		{"not an array", r, `{"patients":{"doctor_id":"x"}}`, ErrShape},
		{"too large", big, `{"a":"0123456789"}`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := tt.rules.Apply([]byte(tt.body), map[string]any{"sub": "dr-lee"}, nil)
			if !errors.Is(err, tt.want) {
				t.Errorf("Apply error = %v, want %v", err, tt.want)
			}
			if out != nil {
				t.Errorf("Apply returned a body with its error: %q", out)
			}
		})
	}
	// A null where the array would be is nothing to filter.
	if _, _, err := r.Apply([]byte(`{"patients":null}`), nil, nil); err != nil {
		t.Errorf("null array: %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"filter without path", Spec{Filter: "true"}, "filter_path: selector must start with $"},
		{"path without filter", Spec{FilterPath: "$[*]"}, "filter: must be set with filter_path"},
		{"path not ending in [*]", Spec{Filter: "true", FilterPath: "$.patients"}, "must end with [*]"},
		{"filter not bool", Spec{Filter: "element", FilterPath: "$[*]"}, "must be a bool expression"},
		{"filter syntax", Spec{Filter: "element.a ==", FilterPath: "$[*]"}, "filter: 1:"},
		{"field on element", Spec{Fields: []FieldSpec{{Select: "$.a", Action: ActionRemove, When: "element.a"}}}, "fields[0]: when: 1:1: undeclared reference to 'element'"},
		{"unless syntax", Spec{Fields: []FieldSpec{{Select: "$.a", Action: ActionRemove, Unless: "claims.("}}}, "fields[0]: unless:"},
		{"select index", Spec{Fields: []FieldSpec{{Select: "$.a[0]", Action: ActionRemove}}}, "must end with a field name"},
		{"select bad", Spec{Fields: []FieldSpec{{Select: "a", Action: ActionRemove}}}, "fields[0]: select: selector must start with $"},
		{"action", Spec{Fields: []FieldSpec{{Select: "$.a", Action: "hash"}}}, `action: "hash" is not remove or encrypt`},
		{"key size", Spec{Fields: []FieldSpec{{Select: "$.a", Action: ActionEncrypt, Key: []byte("short")}}}, "key: must be 32 bytes, not 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestConditionCostLimit(t *testing.T) {
	// A comprehension over a huge claim stops at the cost limit and
	// counts toward acting.
	r := mustCompile(t, Spec{Fields: []FieldSpec{{Select: "$.a", Action: ActionRemove,
		Unless: `claims.list.all(x, claims.list.all(y, x == y))`}}})
	list := make([]any, 1000)
	for i := range list {
		list[i] = 1.0
	}
	out, n, err := r.Apply([]byte(`{"a":1,"b":2}`), map[string]any{"list": list}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"b":2}`, string(out)); diff != "" || n.Removed != 1 {
		t.Errorf("result (-want +got):\n%s (counts %+v)", diff, n)
	}
}

func BenchmarkApplyClinic(b *testing.B) {
	r, err := Compile(clinicSpec())
	if err != nil {
		b.Fatal(err)
	}
	// About 2 KB: a page of patients.
	var sb strings.Builder
	sb.WriteString(`{"patients":[`)
	for i := 0; i < 16; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		doc := "dr-lee"
		if i%2 == 1 {
			doc = "dr-kim"
		}
		sb.WriteString(`{"id":` + itoa(i) + `,"name":"Patient","doctor_id":"` + doc + `","ssn":"111-11-1111","diagnosis":"flu"}`)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	claims := map[string]any{"sub": "dr-lee", "roles": []any{"doctor"}, "scope": "patients:read ssn:read"}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Apply(body, claims, nil); err != nil {
			b.Fatal(err)
		}
	}
}
