package admin

import (
	"context"
	"net/http"

	"github.com/portcullis/portcullis/internal/audit"
)

// AuditVerifier walks the audit trail's hash chain (*audit.Auditor). A
// broken chain is a report, not an error; the error is for a store that
// could not be read.
type AuditVerifier interface {
	Verify(ctx context.Context) (audit.VerifyReport, error)
}

var _ AuditVerifier = (*audit.Auditor)(nil)

var hasAuditVerifier = func(a *API) bool { return a.auditVerifier != nil }

// auditVerifyRoutes are the routes of the audit trail's verification
// (`portcullis audit verify --server`).
var auditVerifyRoutes = []route{
	{method: "GET", path: "/admin/v1/audit/verify", roles: readers, op: "verifyAudit",
		summary:  "Check the audit trail's hash chain; a broken chain is 200 with ok false and the first broken record",
		response: "AuditVerifyReport", status: 200, part: hasAuditVerifier, handle: (*API).verifyAudit},
}

// AuditVerifyReport is the outcome of verifying the audit trail, as the
// admin API answers it and `portcullis audit verify --json` prints it.
type AuditVerifyReport struct {
	OK bool `json:"ok"`
	// Records counts the records checked and found sound.
	Records int64 `json:"records"`
	// HeadSeq and HeadHash are the chain head the store holds.
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
	// BrokenSeq, Problem and Detail name the first broken record; absent
	// when the chain is sound.
	BrokenSeq int64  `json:"broken_seq,omitempty"`
	Problem   string `json:"problem,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// NewAuditVerifyReport is rep as the admin API answers it.
func NewAuditVerifyReport(rep audit.VerifyReport) AuditVerifyReport {
	v := AuditVerifyReport{OK: rep.OK(), Records: rep.Records, HeadSeq: rep.HeadSeq, HeadHash: rep.HeadHash}
	if b := rep.Broken; b != nil {
		v.BrokenSeq, v.Problem, v.Detail = b.Seq, string(b.Problem), b.Detail
	}
	return v
}

// Report is v as the audit package's report, whose String is the line the
// CLI prints.
func (v AuditVerifyReport) Report() audit.VerifyReport {
	rep := audit.VerifyReport{Records: v.Records, HeadSeq: v.HeadSeq, HeadHash: v.HeadHash}
	if !v.OK {
		rep.Broken = &audit.Break{Seq: v.BrokenSeq, Problem: audit.Problem(v.Problem), Detail: v.Detail}
	}
	return rep
}

// verifyAudit walks the whole chain; its details name records by their
// place and never quote their content.
func (a *API) verifyAudit(w http.ResponseWriter, r *http.Request, reqID string) {
	rep, err := a.auditVerifier.Verify(r.Context())
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	writeJSON(w, http.StatusOK, NewAuditVerifyReport(rep))
}
