package admin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/audit"
)

// verifyFunc is an AuditVerifier for reports the store cannot easily be
// made to give.
type verifyFunc func(ctx context.Context) (audit.VerifyReport, error)

func (f verifyFunc) Verify(ctx context.Context) (audit.VerifyReport, error) { return f(ctx) }

func TestAuditVerify(t *testing.T) {
	d := newDocumentStore(t)
	srv := newDocumentAPI(t, d.docs, d.auditor)
	zero := int64(0)
	if resp, body := call(t, srv, "POST", "/admin/v1/catalog/apply", breakGlassToken, documentBody(t, shopDocument, &zero), nil); resp.StatusCode != 200 {
		t.Fatalf("apply: %d %s", resp.StatusCode, body)
	}

	resp, body := call(t, srv, "GET", "/admin/v1/audit/verify", "tok-admin:auditor", "", nil)
	got := decodeAs[AuditVerifyReport](t, body)
	if resp.StatusCode != 200 || !got.OK || got.Records != 1 || got.HeadSeq != 1 || len(got.HeadHash) != 64 || got.BrokenSeq != 0 {
		t.Fatalf("verify: %d %s", resp.StatusCode, body)
	}
	if s := got.Report().String(); !strings.HasPrefix(s, "audit trail OK: 1 records, head 1 ") {
		t.Errorf("report line %q", s)
	}

	for _, tc := range []struct {
		tok  string
		want int
	}{
		{"", 401}, {"no-role", 403}, {"tok-admin:publisher", 403}, {"tok-admin:developer", 403},
		{"tok-admin:approver", 403}, {"tok-admin:platform", 200}, {breakGlassToken, 200},
	} {
		if resp, _ := call(t, srv, "GET", "/admin/v1/audit/verify", tc.tok, "", nil); resp.StatusCode != tc.want {
			t.Errorf("verify as %q: %d, want %d", tc.tok, resp.StatusCode, tc.want)
		}
	}
}

func TestAuditVerifyBrokenAndFailing(t *testing.T) {
	broken := audit.VerifyReport{Records: 2, HeadSeq: 5, HeadHash: strings.Repeat("ab", 32),
		Broken: &audit.Break{Seq: 3, Problem: audit.Edited, Detail: "record 3 does not match its hash: its content was changed"}}
	srv := newDocumentAPI(t, nil, verifyFunc(func(context.Context) (audit.VerifyReport, error) { return broken, nil }))
	resp, body := call(t, srv, "GET", "/admin/v1/audit/verify", "tok-admin:auditor", "", nil)
	got := decodeAs[AuditVerifyReport](t, body)
	want := AuditVerifyReport{OK: false, Records: 2, HeadSeq: 5, HeadHash: broken.HeadHash, BrokenSeq: 3, Problem: "edited", Detail: broken.Broken.Detail}
	if resp.StatusCode != 200 {
		t.Fatalf("verify of a broken chain: %d %s, want 200 with the report", resp.StatusCode, body)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(broken, got.Report()); diff != "" {
		t.Errorf("Report() (-want +got):\n%s", diff)
	}

	failing := newDocumentAPI(t, nil, verifyFunc(func(context.Context) (audit.VerifyReport, error) {
		return audit.VerifyReport{}, errors.New("audit: verify: sqlite: database is locked at /var/lib/secret.db")
	}))
	resp, body = call(t, failing, "GET", "/admin/v1/audit/verify", "tok-admin:platform", "", nil)
	if resp.StatusCode != 500 || strings.Contains(body, "secret.db") {
		t.Errorf("a store error: %d %s, want 500 without the cause", resp.StatusCode, body)
	}

	off := newDocumentAPI(t, nil, nil)
	if resp, _ := call(t, off, "GET", "/admin/v1/audit/verify", "tok-admin:platform", "", nil); resp.StatusCode != 404 {
		t.Errorf("without a verifier: %d, want 404", resp.StatusCode)
	}
}
