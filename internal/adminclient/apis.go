package adminclient

import (
	"context"
	"net/http"
	"net/url"

	"github.com/portcullis/portcullis/internal/admin"
)

// ListAPIVersions returns every stored API version (summaries), all
// pages, filtered as GET /admin/v1/apis filters (state, tag, q,
// gateway_group; empty values are left out).
func (c *Client) ListAPIVersions(ctx context.Context, filter map[string]string) ([]admin.APIVersionSummary, error) {
	q := url.Values{}
	for k, v := range filter {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := "/admin/v1/apis"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return listAll[admin.APIVersionSummary](ctx, c, path)
}

// SetAPIVersionState moves a stored version through its lifecycle and
// returns it as stored (the catalog document's fields, as JSON). A move
// the catalog refuses is an *Error with status 422 whose detail says
// why.
func (c *Client) SetAPIVersionState(ctx context.Context, name, version, state string) (map[string]any, error) {
	var out map[string]any
	path := "/admin/v1/apis/" + url.PathEscape(name) + "/versions/" + url.PathEscape(version) + "/state"
	err := c.do(ctx, http.MethodPost, path, admin.StateRequest{State: state}, &out)
	return out, err
}
