package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/publish"
)

// CatalogService is the stored catalog's domain service
// (*publish.Service): reads, and single-object writes checked by the
// catalog's rules (validation, clashes with the configuration file, the
// lifecycle) and audited with the context's actor. match runs against
// the catalog revision the write is made on, so If-Match cannot pass on
// a stale read.
type CatalogService interface {
	Export(ctx context.Context) (catalog.Document, error)
	Version(ctx context.Context, name, version string) (catalog.VersionEntry, error)
	PutVersion(ctx context.Context, e catalog.VersionEntry, match publish.VersionMatch) (bool, error)
	SetState(ctx context.Context, name, version string, to catalog.State, match publish.VersionMatch) (catalog.VersionEntry, error)
	DeleteVersion(ctx context.Context, name, version string, match publish.VersionMatch) error
	PlanEntry(ctx context.Context, name string) (catalog.PlanEntry, error)
	PutPlan(ctx context.Context, p catalog.PlanEntry, match publish.PlanMatch) (bool, error)
	DeletePlan(ctx context.Context, name string, match publish.PlanMatch) error
}

var _ CatalogService = (*publish.Service)(nil)

// Role sets of the catalog routes: everyone with a role reads the
// catalog (developers pick APIs and plans from it); publishers and
// platform admins change it. Approvers get their own routes with
// governance's approval requests.
var (
	catalogRead  = Roles
	catalogWrite = []Role{RolePlatform, RolePublisher}
	hasCatalog   = func(a *API) bool { return a.catalog != nil }
)

// catalogRoutes are the routes of the stored catalog's API versions,
// plans and groups. Bodies use the field names of the catalog document
// (`portcullis apply`), so one definition reads the same in YAML and in
// JSON.
var catalogRoutes = []route{
	{method: "GET", path: "/admin/v1/apis", roles: catalogRead, op: "listAPIVersions",
		summary: "List stored API versions (filters: q in name or description, tag, state, gateway group)",
		query:   []string{"q", "tag", "state", "gateway_group", "limit", "cursor"}, response: "APIVersionPage", status: 200,
		part: hasCatalog, handle: (*API).listAPIVersions},
	{method: "GET", path: "/admin/v1/apis/{name}/versions/{version}", roles: catalogRead, op: "getAPIVersion",
		summary: "Show a stored API version", response: "APIVersion", status: 200, etag: true,
		part: hasCatalog, handle: (*API).getAPIVersion},
	{method: "PUT", path: "/admin/v1/apis/{name}/versions/{version}", roles: catalogWrite, op: "putAPIVersion",
		summary: "Create or replace an API version (If-Match to replace what was read, If-None-Match: * to only create)",
		request: "APIVersion", response: "APIVersion", status: 200, etag: true,
		part: hasCatalog, handle: (*API).putAPIVersion},
	{method: "POST", path: "/admin/v1/apis/{name}/versions/{version}/state", roles: catalogWrite, op: "setAPIVersionState",
		summary: "Move an API version through its lifecycle (draft, published, deprecated, retired)",
		request: "StateRequest", response: "APIVersion", status: 200, etag: true,
		part: hasCatalog, handle: (*API).setAPIVersionState},
	{method: "DELETE", path: "/admin/v1/apis/{name}/versions/{version}", roles: catalogWrite, op: "deleteAPIVersion",
		summary: "Delete an API version that is not served (draft or retired)", status: 204, etag: true,
		part: hasCatalog, handle: (*API).deleteAPIVersion},

	{method: "GET", path: "/admin/v1/plans", roles: catalogRead, op: "listPlans", summary: "List stored plans",
		query: pageQuery, response: "PlanPage", status: 200, part: hasCatalog, handle: (*API).listPlans},
	{method: "GET", path: "/admin/v1/plans/{plan}", roles: catalogRead, op: "getPlan", summary: "Show a stored plan",
		response: "Plan", status: 200, etag: true, part: hasCatalog, handle: (*API).getPlan},
	{method: "PUT", path: "/admin/v1/plans/{plan}", roles: catalogWrite, op: "putPlan",
		summary: "Create or replace a plan (If-Match to replace what was read, If-None-Match: * to only create)",
		request: "Plan", response: "Plan", status: 200, etag: true, part: hasCatalog, handle: (*API).putPlan},
	{method: "DELETE", path: "/admin/v1/plans/{plan}", roles: catalogWrite, op: "deletePlan", summary: "Delete a plan",
		status: 204, etag: true, part: hasCatalog, handle: (*API).deletePlan},

	{method: "GET", path: "/admin/v1/groups", roles: catalogRead, op: "listGroups",
		summary:  "The stored API groups and gateway groups (changed through the catalog document)",
		response: "Groups", status: 200, part: hasCatalog, handle: (*API).listGroups},
}

// errPrecondition is a failed If-Match or If-None-Match, found inside a
// write's match.
var errPrecondition = errors.New("the resource changed since it was read (If-Match does not match its ETag)")

// asJSON is v in the JSON form of its YAML document form: the field
// names `portcullis apply` reads.
func asJSON(v any) (json.RawMessage, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := yaml.Unmarshal(b, &generic); err != nil {
		return nil, err
	}
	return json.Marshal(generic)
}

// decodeDocumentJSON reads a JSON body into v by the document's YAML
// field names (JSON is YAML), refusing unknown fields and duplicate keys
// as `portcullis apply` does. It answers 400 itself and reports false.
func (a *API) decodeDocumentJSON(w http.ResponseWriter, r *http.Request, reqID string, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err == nil && !json.Valid(body) {
		err = errors.New("not JSON")
	}
	if err == nil {
		dec := yaml.NewDecoder(bytes.NewReader(body))
		dec.KnownFields(true)
		err = dec.Decode(v)
	}
	if err != nil {
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request",
			"the body is not the JSON object this operation takes (field names as in the catalog document): "+yamlReason(err))
		return false
	}
	return true
}

// yamlReason is the decoder's complaint without the body's text: a field
// name or a line, never a value.
func yamlReason(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return "malformed JSON"
}

func (a *API) writeEntry(w http.ResponseWriter, reqID string, status int, v any) {
	b, err := asJSON(v)
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	w.Header().Set("ETag", etag(b))
	writeJSON(w, status, b)
}

func entryETag(v any) string {
	b, err := asJSON(v)
	if err != nil {
		return `""`
	}
	return etag(b)
}

// preconditions turns If-Match and If-None-Match into a check of the
// stored object (nil when absent) by its ETag.
func preconditions(r *http.Request, tag func() (string, bool)) error {
	if r.Header.Get("If-None-Match") == "*" {
		if _, exists := tag(); exists {
			return errPrecondition
		}
	}
	h := r.Header.Values("If-Match")
	if len(h) == 0 {
		return nil
	}
	current, exists := tag()
	if !exists {
		return errPrecondition
	}
	for _, v := range h {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t == "*" || t == current {
				return nil
			}
		}
	}
	return errPrecondition
}

func versionMatch(r *http.Request) publish.VersionMatch {
	return func(cur *catalog.VersionEntry) error {
		return preconditions(r, func() (string, bool) {
			if cur == nil {
				return "", false
			}
			return entryETag(cur), true
		})
	}
}

func planMatch(r *http.Request) publish.PlanMatch {
	return func(cur *catalog.PlanEntry) error {
		return preconditions(r, func() (string, bool) {
			if cur == nil {
				return "", false
			}
			return entryETag(cur), true
		})
	}
}

// APIVersionSummary is one row of the API version list.
type APIVersionSummary struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	BasePath    string   `json:"base_path"`
	State       string   `json:"state"`
	Description string   `json:"description,omitempty"`
	Owners      []string `json:"owners,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Gateways    []string `json:"gateways"`
}

// SummaryOf is e as the version list shows it: the default gateway
// group named when it lists none.
func SummaryOf(e catalog.VersionEntry) APIVersionSummary {
	gateways := e.Gateways
	if len(gateways) == 0 {
		gateways = []string{catalog.DefaultGatewayGroup}
	}
	return APIVersionSummary{Name: e.Name, Version: e.Version, BasePath: e.BasePath, State: string(e.State),
		Description: e.Description, Owners: e.Owners, Tags: e.Tags, Gateways: gateways}
}

func (a *API) listAPIVersions(w http.ResponseWriter, r *http.Request, reqID string) {
	limit, after, ok := a.pageParams(w, r, reqID)
	if !ok {
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state != "" && !catalog.State(state).Valid() {
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request",
			"state must be one of draft, published, deprecated, retired")
		return
	}
	d, err := a.catalog.Export(r.Context())
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	text, tag, group := strings.ToLower(q.Get("q")), q.Get("tag"), q.Get("gateway_group")
	var out []APIVersionSummary
	for _, e := range d.APIs {
		switch {
		case state != "" && string(e.State) != state,
			tag != "" && !slices.Contains(e.Tags, tag),
			group != "" && !e.ServedBy(group),
			text != "" && !strings.Contains(strings.ToLower(e.Name), text) && !strings.Contains(strings.ToLower(e.Description), text):
			continue
		}
		out = append(out, SummaryOf(e))
	}
	// Export sorts by "name version", the page key.
	writeJSON(w, http.StatusOK, paginate(out, func(s APIVersionSummary) string { return s.Name + " " + s.Version }, after, limit))
}

func (a *API) getAPIVersion(w http.ResponseWriter, r *http.Request, reqID string) {
	e, err := a.catalog.Version(r.Context(), r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	a.writeEntry(w, reqID, http.StatusOK, e)
}

func (a *API) putAPIVersion(w http.ResponseWriter, r *http.Request, reqID string) {
	var e catalog.VersionEntry
	if !a.decodeDocumentJSON(w, r, reqID, &e) {
		return
	}
	name, version := r.PathValue("name"), r.PathValue("version")
	if (e.Name != "" && e.Name != name) || (e.Version != "" && e.Version != version) {
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request",
			"the body's name and version, when given, must be the path's")
		return
	}
	e.Name, e.Version = name, version
	created, err := a.catalog.PutVersion(r.Context(), e, versionMatch(r))
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	a.afterVersionWrite(w, r, reqID, created)
}

func (a *API) afterVersionWrite(w http.ResponseWriter, r *http.Request, reqID string, created bool) {
	stored, err := a.catalog.Version(r.Context(), r.PathValue("name"), r.PathValue("version"))
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", r.URL.Path)
	}
	a.writeEntry(w, reqID, status, stored)
}

// StateRequest is the body of a lifecycle move.
type StateRequest struct {
	State string `json:"state"`
}

func (a *API) setAPIVersionState(w http.ResponseWriter, r *http.Request, reqID string) {
	var req StateRequest
	if !a.decode(w, r, reqID, &req) {
		return
	}
	e, err := a.catalog.SetState(r.Context(), r.PathValue("name"), r.PathValue("version"), catalog.State(req.State), versionMatch(r))
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	a.writeEntry(w, reqID, http.StatusOK, e)
}

func (a *API) deleteAPIVersion(w http.ResponseWriter, r *http.Request, reqID string) {
	if err := a.catalog.DeleteVersion(r.Context(), r.PathValue("name"), r.PathValue("version"), versionMatch(r)); err != nil {
		a.fail(w, reqID, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listPlans(w http.ResponseWriter, r *http.Request, reqID string) {
	limit, after, ok := a.pageParams(w, r, reqID)
	if !ok {
		return
	}
	d, err := a.catalog.Export(r.Context())
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	type named struct {
		name string
		body json.RawMessage
	}
	all := make([]named, 0, len(d.Plans))
	for _, p := range d.Plans {
		b, err := asJSON(p)
		if err != nil {
			a.fail(w, reqID, err)
			return
		}
		all = append(all, named{p.Name, b})
	}
	// Export sorts plans by name, the page key.
	page := paginate(all, func(n named) string { return n.name }, after, limit)
	out := Page[json.RawMessage]{Items: make([]json.RawMessage, len(page.Items)), Next: page.Next}
	for i, n := range page.Items {
		out.Items[i] = n.body
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getPlan(w http.ResponseWriter, r *http.Request, reqID string) {
	p, err := a.catalog.PlanEntry(r.Context(), r.PathValue("plan"))
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	a.writeEntry(w, reqID, http.StatusOK, p)
}

func (a *API) putPlan(w http.ResponseWriter, r *http.Request, reqID string) {
	var p catalog.PlanEntry
	if !a.decodeDocumentJSON(w, r, reqID, &p) {
		return
	}
	name := r.PathValue("plan")
	if p.Name != "" && p.Name != name {
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request", "the body's name, when given, must be the path's")
		return
	}
	p.Name = name
	created, err := a.catalog.PutPlan(r.Context(), p, planMatch(r))
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	stored, err := a.catalog.PlanEntry(r.Context(), name)
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", r.URL.Path)
	}
	a.writeEntry(w, reqID, status, stored)
}

func (a *API) deletePlan(w http.ResponseWriter, r *http.Request, reqID string) {
	if err := a.catalog.DeletePlan(r.Context(), r.PathValue("plan"), planMatch(r)); err != nil {
		a.fail(w, reqID, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request, reqID string) {
	d, err := a.catalog.Export(r.Context())
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	b, err := asJSON(struct {
		APIGroups     []catalog.APIGroupEntry     `yaml:"api_groups"`
		GatewayGroups []catalog.GatewayGroupEntry `yaml:"gateway_groups"`
	}{d.APIGroups, d.GatewayGroups})
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}
