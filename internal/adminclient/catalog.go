package adminclient

import (
	"context"
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/internal/admin"
)

// Catalog returns the stored catalog as a YAML document, with the
// revision it is at.
func (c *Client) Catalog(ctx context.Context) (admin.CatalogDocument, error) {
	var out admin.CatalogDocument
	err := c.do(ctx, http.MethodGet, "/admin/v1/catalog", nil, &out)
	return out, err
}

// PlanCatalog asks what applying the YAML document would change; it
// writes nothing. A refused document is an *Error with status 422 whose
// detail holds every reason.
func (c *Client) PlanCatalog(ctx context.Context, document string) (admin.DocumentPlan, error) {
	var out admin.DocumentPlan
	err := c.do(ctx, http.MethodPost, "/admin/v1/catalog/plan", admin.DocumentRequest{Document: document}, &out)
	return out, err
}

// ErrCatalogMoved: the stored catalog changed since the plan was made;
// ApplyCatalog applied nothing.
var ErrCatalogMoved = errors.New("the stored catalog changed since the plan; run again to see the new plan")

// ApplyCatalog applies the YAML document if the catalog is still at
// revision, the revision of the plan that was shown; otherwise it
// applies nothing and returns an error wrapping ErrCatalogMoved (and the
// API's *Error).
func (c *Client) ApplyCatalog(ctx context.Context, document string, revision int64) (admin.DocumentApplied, error) {
	var out admin.DocumentApplied
	err := c.do(ctx, http.MethodPost, "/admin/v1/catalog/apply", admin.DocumentApplyRequest{Document: document, Revision: &revision}, &out)
	if e := (*Error)(nil); errors.As(err, &e) && e.Status == http.StatusPreconditionFailed {
		return out, movedError{e}
	}
	return out, err
}

// movedError is a 412 of the apply route: ErrCatalogMoved, with the
// request id to look up.
type movedError struct{ api *Error }

func (e movedError) Error() string {
	if e.api.RequestID == "" {
		return ErrCatalogMoved.Error()
	}
	return ErrCatalogMoved.Error() + " (request id " + e.api.RequestID + ")"
}

func (e movedError) Unwrap() []error { return []error{ErrCatalogMoved, e.api} }
