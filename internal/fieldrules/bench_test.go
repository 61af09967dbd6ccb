package fieldrules

import (
	"fmt"
	"strings"
	"testing"
)

// harnessSpec and harnessBody are the load harness's protected route
// (bench/gateway.sh): 2 KB of patient records, half of them of doctor
// D-1, filtered to D-1's, the diagnosis removed and the ssn encrypted.
func harnessSpec() Spec {
	return Spec{
		Filter:     `element.doctor_id == "D-1" || "admin" in claims.scope.split(" ")`,
		FilterPath: "$.patients[*]",
		Fields: []FieldSpec{
			{Select: "$.patients[*].diagnosis", Action: ActionRemove, Unless: `"diagnosis" in claims.scope.split(" ")`},
			{Select: "$.patients[*].ssn", Action: ActionEncrypt, Key: testKey},
		},
	}
}

func harnessBody() []byte {
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

// harnessClaims are a client-credentials access token's claims.
func harnessClaims() map[string]any {
	return map[string]any{"iss": "http://127.0.0.1:8080", "sub": "svc-jwt", "client_id": "svc-jwt",
		"aud": []any{"urn:portcullis:api:bench"}, "scope": "list_items", "jti": "2b0c6f0e",
		"iat": 1.7e9, "exp": 1.7e9 + 300}
}

// BenchmarkApplyHarness is the harness's response: 19 records, 10 kept,
// 10 diagnoses removed, 10 ssn encrypted.
func BenchmarkApplyHarness(b *testing.B) {
	r, err := Compile(harnessSpec())
	if err != nil {
		b.Fatal(err)
	}
	body, claims := harnessBody(), harnessClaims()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, n, err := r.Apply(body, claims, nil); err != nil || n != (Counts{Dropped: 9, Removed: 10, Encrypted: 10}) {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkApplyUnchanged is a document no rule changes: it is read and
// handed back as it came.
func BenchmarkApplyUnchanged(b *testing.B) {
	r, err := Compile(Spec{Fields: []FieldSpec{{Select: "$.orders[*].ssn", Action: ActionRemove}}})
	if err != nil {
		b.Fatal(err)
	}
	body, claims := harnessBody(), harnessClaims()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, n, err := r.Apply(body, claims, nil); err != nil || n != (Counts{}) {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkApplyFilterDistinct is the harness's response under a filter
// that reads a member every element has its own value of: no two
// elements are the same to it, so it runs once per element.
func BenchmarkApplyFilterDistinct(b *testing.B) {
	spec := harnessSpec()
	spec.Filter = `element.id != "P-0003" && (element.doctor_id == "D-1" || "admin" in claims.scope.split(" "))`
	r, err := Compile(spec)
	if err != nil {
		b.Fatal(err)
	}
	body, claims := harnessBody(), harnessClaims()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, n, err := r.Apply(body, claims, nil); err != nil || n.Dropped != 9 {
			b.Fatal(n, err)
		}
	}
}
