package adminclient

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/portcullis/portcullis/internal/admin"
)

// VerifyAudit checks the audit trail's hash chain on the node. A broken
// chain is a report with OK false, not an error.
func (c *Client) VerifyAudit(ctx context.Context) (admin.AuditVerifyReport, error) {
	var out admin.AuditVerifyReport
	err := c.do(ctx, http.MethodGet, "/admin/v1/audit/verify", nil, &out)
	return out, err
}

// AuditQuery selects audit records as GET /admin/v1/audit and `portcullis
// audit export` do; zero fields select everything.
type AuditQuery struct {
	// Actor is a subject or client id.
	Actor string
	// Action is an action, or a prefix ending in ".*".
	Action string
	// Target is "type", "type:id", or ":id" for an id of any type.
	Target string
	// Since (inclusive) and Until (exclusive) bound the time.
	Since, Until time.Time
}

// AuditPages calls each with every page of the records q selects, oldest
// first, following next_cursor; it stops at the first error each
// returns.
func (c *Client) AuditPages(ctx context.Context, q AuditQuery, each func(admin.AuditPage) error) error {
	v := url.Values{"limit": {"200"}}
	for k, s := range map[string]string{"actor": q.Actor, "action": q.Action, "target": q.Target} {
		if s != "" {
			v.Set(k, s)
		}
	}
	for k, t := range map[string]time.Time{"since": q.Since, "until": q.Until} {
		if !t.IsZero() {
			v.Set(k, t.UTC().Format(time.RFC3339Nano))
		}
	}
	for {
		var page admin.AuditPage
		if err := c.do(ctx, http.MethodGet, "/admin/v1/audit?"+v.Encode(), nil, &page); err != nil {
			return err
		}
		if err := each(page); err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
		v.Set("cursor", page.Next)
	}
}
