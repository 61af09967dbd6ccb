package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/registry"
)

// ApplicationService is the registry's application service
// (*registry.Applications). Errors wrap registry.ErrNotFound,
// registry.ErrExists, registry.ErrChanged, or are a *registry.FieldError;
// a check's own error comes back as it was.
type ApplicationService interface {
	// List returns the applications of owner ("" for everyone's),
	// ordered by id.
	List(ctx context.Context, owner string) ([]registry.Application, error)
	Get(ctx context.Context, id string) (registry.Application, error)
	Create(ctx context.Context, spec registry.ApplicationSpec) (registry.Application, error)
	// Update and Delete run check on the application as read, and write
	// only if it is still that one.
	Update(ctx context.Context, id string, p registry.ApplicationPatch, check func(registry.Application) error) (registry.Application, error)
	Delete(ctx context.Context, id string, check func(registry.Application) error) error
}

var _ ApplicationService = (*registry.Applications)(nil)

// SubscriptionService is the registry's subscription service
// (*registry.Subscriptions); errors as ApplicationService's, plus
// *registry.RefusedError for what the catalog or the lifecycle refuses.
type SubscriptionService interface {
	List(ctx context.Context, f registry.SubscriptionFilter) ([]registry.Subscription, error)
	Get(ctx context.Context, id string) (registry.Subscription, error)
	Create(ctx context.Context, spec registry.SubscriptionSpec) (registry.Subscription, error)
	SetState(ctx context.Context, id, state string, check func(registry.Subscription) error) (registry.Subscription, error)
}

var _ SubscriptionService = (*registry.Subscriptions)(nil)

// Role sets of the application and subscription routes. Developers are
// admitted to each route but see and change only what they own (the
// handlers narrow it); auditors read everything; approvers and
// publishers read every subscription, and approvers set their state.
var (
	appRead   = []Role{RolePlatform, RoleDeveloper, RoleAuditor}
	appWrite  = []Role{RolePlatform, RoleDeveloper}
	subRead   = Roles
	subState  = []Role{RolePlatform, RoleApprover, RoleDeveloper}
	anyState  = []Role{RolePlatform, RoleApprover}
	allApps   = []Role{RolePlatform, RoleAuditor}
	allSubs   = []Role{RolePlatform, RoleAuditor, RoleApprover, RolePublisher}
	hasApps   = func(a *API) bool { return a.applications != nil }
	hasSubs   = func(a *API) bool { return a.subscriptions != nil && a.applications != nil }
	appsQuery = []string{"owner", "limit", "cursor"}
	subsQuery = []string{"application", "api", "limit", "cursor"}
)

// applicationRoutes are the routes of applications and subscriptions.
var applicationRoutes = []route{
	{method: "GET", path: "/admin/v1/applications", roles: appRead, op: "listApplications",
		summary: "List applications (a developer's own only)", query: appsQuery, response: "ApplicationPage",
		status: 200, part: hasApps, handle: (*API).listApplications},
	{method: "POST", path: "/admin/v1/applications", roles: appWrite, op: "createApplication",
		summary: "Create an application of an OAuth client, owned by the caller (or, for a platform administrator, by owner)",
		request: "ApplicationRequest", response: "Application", status: 201, etag: true, part: hasApps,
		handle: (*API).createApplication},
	{method: "GET", path: "/admin/v1/applications/{app_id}", roles: appRead, op: "getApplication",
		summary: "Show an application", response: "Application", status: 200, etag: true, part: hasApps,
		handle: (*API).getApplication},
	{method: "PATCH", path: "/admin/v1/applications/{app_id}", roles: appWrite, op: "updateApplication",
		summary: "Change the fields given of an application; honours If-Match", request: "ApplicationPatch",
		response: "Application", status: 200, etag: true, part: hasApps, handle: (*API).updateApplication},
	{method: "DELETE", path: "/admin/v1/applications/{app_id}", roles: appWrite, op: "deleteApplication",
		summary: "Delete an application with its subscriptions (the OAuth client stays)", status: 204, etag: true,
		part: hasApps, handle: (*API).deleteApplication},

	{method: "GET", path: "/admin/v1/subscriptions", roles: subRead, op: "listSubscriptions",
		summary: "List subscriptions (a developer's own applications' only)", query: subsQuery,
		response: "SubscriptionPage", status: 200, part: hasSubs, handle: (*API).listSubscriptions},
	{method: "POST", path: "/admin/v1/subscriptions", roles: appWrite, op: "createSubscription",
		summary: "Subscribe an application to a published API version under a plan", request: "SubscriptionRequest",
		response: "Subscription", status: 201, etag: true, part: hasSubs, handle: (*API).createSubscription},
	{method: "GET", path: "/admin/v1/subscriptions/{sub_id}", roles: subRead, op: "getSubscription",
		summary: "Show a subscription", response: "Subscription", status: 200, etag: true, part: hasSubs,
		handle: (*API).getSubscription},
	{method: "POST", path: "/admin/v1/subscriptions/{sub_id}/state", roles: subState, op: "setSubscriptionState",
		summary: "Suspend, resume or cancel a subscription (developers: cancel their own)", request: "SubscriptionStateRequest",
		response: "Subscription", status: 200, etag: true, part: hasSubs, handle: (*API).setSubscriptionState},
}

func init() {
	// The OpenAPI document describes every query parameter a route reads.
	queryDescriptions["owner"] = "the owner's subject (platform administrators and auditors; a developer sees their own only)"
	queryDescriptions["application"] = "an application id"
	queryDescriptions["api"] = "an API name (every version)"
}

// ApplicationRequest is the body of POST /admin/v1/applications.
type ApplicationRequest struct {
	Name     string `json:"name"`
	ClientID string `json:"client_id"`
	// Owner defaults to the caller's subject; only a platform
	// administrator may name someone else.
	Owner       string `json:"owner,omitempty"`
	Team        string `json:"team,omitempty"`
	Environment string `json:"environment,omitempty"`
	Description string `json:"description,omitempty"`
}

// ApplicationPatch is the body of PATCH /admin/v1/applications/{app_id}:
// the fields present are changed ("" clears team and description).
type ApplicationPatch struct {
	Name        *string `json:"name,omitempty"`
	Owner       *string `json:"owner,omitempty"`
	Team        *string `json:"team,omitempty"`
	Environment *string `json:"environment,omitempty"`
	Description *string `json:"description,omitempty"`
}

// SubscriptionRequest is the body of POST /admin/v1/subscriptions.
type SubscriptionRequest struct {
	ApplicationID string `json:"application_id"`
	API           string `json:"api"`
	Version       string `json:"version"`
	Plan          string `json:"plan"`
}

// SubscriptionStateRequest is the body of POST
// /admin/v1/subscriptions/{sub_id}/state.
type SubscriptionStateRequest struct {
	State string `json:"state"`
}

// access is what the caller's roles let it see and do with applications
// and subscriptions beyond its own.
type access struct {
	subject string
	roles   []Role
}

func accessOf(ctx context.Context) access {
	act, _ := audit.ActorFrom(ctx) // guard always sets it
	c := access{subject: act.Subject}
	for _, r := range act.Roles {
		c.roles = append(c.roles, Role(r))
	}
	return c
}

// has reports whether the caller holds one of roles.
func (c access) has(roles []Role) bool {
	return slices.ContainsFunc(c.roles, func(r Role) bool { return slices.Contains(roles, r) })
}

// owns reports whether the application is the caller's own. A caller
// without a subject owns nothing.
func (c access) owns(app registry.Application) bool { return c.subject != "" && app.Owner == c.subject }

func (c access) seesApp(app registry.Application) bool { return c.has(allApps) || c.owns(app) }

// noSuch is the 404 of an object that does not exist and of one the
// caller may not see, in the same words, so the answer never tells the
// two apart.
func noSuch(kind, id string) error {
	return fmt.Errorf("%w: no %s %q", registry.ErrNotFound, kind, id)
}

// forbidden is an operation on a visible object that the caller's roles
// do not cover; roles are those that would.
type forbidden struct {
	roles  []Role
	detail string
}

func (e *forbidden) Error() string { return e.detail }

// failApp answers err of an operation on the kind of object named id:
// every not-found as noSuch, the registry's refusals in their own words,
// the rest as fail does.
func (a *API) failApp(w http.ResponseWriter, reqID, kind, id string, err error) {
	var fe *registry.FieldError
	var re *registry.RefusedError
	var fb *forbidden
	switch {
	case errors.Is(err, registry.ErrNotFound):
		a.fail(w, reqID, noSuch(kind, id))
	case errors.As(err, &fe):
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request", fe.Error())
	case errors.As(err, &re):
		a.problem(w, reqID, http.StatusUnprocessableEntity, "refused", "Refused", re.Reason)
	case errors.Is(err, registry.ErrChanged):
		a.problem(w, reqID, http.StatusPreconditionFailed, "precondition-failed", "Precondition failed",
			"the resource changed while the request was being handled; read it again")
	case errors.As(err, &fb):
		// RFC 6750 §3.1, as the route guard answers a missing role.
		w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin", error="insufficient_scope", scope="`+joinRoles(fb.roles)+`"`)
		a.problem(w, reqID, http.StatusForbidden, "insufficient-scope", "Insufficient scope", fb.detail)
	default:
		a.fail(w, reqID, err)
	}
}

func (a *API) listApplications(w http.ResponseWriter, r *http.Request, reqID string) {
	limit, after, ok := a.pageParams(w, r, reqID)
	if !ok {
		return
	}
	c := accessOf(r.Context())
	owner := r.URL.Query().Get("owner")
	if !c.has(allApps) {
		if c.subject == "" || owner != "" && owner != c.subject {
			writeJSON(w, http.StatusOK, Page[registry.Application]{Items: []registry.Application{}})
			return
		}
		owner = c.subject
	}
	list, err := a.applications.List(r.Context(), owner)
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	writeJSON(w, http.StatusOK, paginate(list, func(x registry.Application) string { return x.ID }, after, limit))
}

func (a *API) createApplication(w http.ResponseWriter, r *http.Request, reqID string) {
	var req ApplicationRequest
	if !a.decode(w, r, reqID, &req) {
		return
	}
	c := accessOf(r.Context())
	if req.Owner == "" {
		req.Owner = c.subject
	} else if req.Owner != c.subject && !c.has(platformOnly) {
		a.failApp(w, reqID, "application", "", &forbidden{platformOnly, "only a platform administrator may create an application for another owner"})
		return
	}
	app, err := a.applications.Create(r.Context(), registry.ApplicationSpec{
		Name: req.Name, ClientID: req.ClientID, Owner: req.Owner, Team: req.Team,
		Environment: req.Environment, Description: req.Description,
	})
	if err != nil {
		a.failApp(w, reqID, "application", "", err)
		return
	}
	w.Header().Set("ETag", etag(app))
	w.Header().Set("Location", "/admin/v1/applications/"+app.ID)
	writeJSON(w, http.StatusCreated, app)
}

func (a *API) getApplication(w http.ResponseWriter, r *http.Request, reqID string) {
	id := r.PathValue("app_id")
	app, err := a.applications.Get(r.Context(), id)
	if err == nil && !accessOf(r.Context()).seesApp(app) {
		err = registry.ErrNotFound
	}
	if err != nil {
		a.failApp(w, reqID, "application", id, err)
		return
	}
	w.Header().Set("ETag", etag(app))
	writeJSON(w, http.StatusOK, app)
}

// appCheck is the check of a write to an application: the caller may
// change only what it owns (platform: everything), and If-Match must
// match the application as read.
func appCheck(r *http.Request) func(registry.Application) error {
	c := accessOf(r.Context())
	return func(app registry.Application) error {
		switch {
		case c.has(platformOnly) || c.owns(app):
		case c.seesApp(app):
			// An auditor who is also a developer reads it, so it may
			// hear that it exists.
			return &forbidden{platformOnly, "only the owner or a platform administrator may change an application"}
		default:
			return registry.ErrNotFound
		}
		return preconditions(r, func() (string, bool) { return etag(app), true })
	}
}

func (a *API) updateApplication(w http.ResponseWriter, r *http.Request, reqID string) {
	id := r.PathValue("app_id")
	var req ApplicationPatch
	if !a.decode(w, r, reqID, &req) {
		return
	}
	check := appCheck(r)
	if req.Owner != nil {
		c, base := accessOf(r.Context()), check
		check = func(app registry.Application) error {
			if err := base(app); err != nil {
				return err
			}
			if *req.Owner != app.Owner && !c.has(platformOnly) {
				return &forbidden{platformOnly, "only a platform administrator may give an application to another owner"}
			}
			return nil
		}
	}
	app, err := a.applications.Update(r.Context(), id, registry.ApplicationPatch{
		Name: req.Name, Owner: req.Owner, Team: req.Team, Environment: req.Environment, Description: req.Description,
	}, check)
	if err != nil {
		a.failApp(w, reqID, "application", id, err)
		return
	}
	w.Header().Set("ETag", etag(app))
	writeJSON(w, http.StatusOK, app)
}

func (a *API) deleteApplication(w http.ResponseWriter, r *http.Request, reqID string) {
	id := r.PathValue("app_id")
	if err := a.applications.Delete(r.Context(), id, appCheck(r)); err != nil {
		a.failApp(w, reqID, "application", id, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ownsSub reports whether the caller owns sub's application.
func (a *API) ownsSub(ctx context.Context, c access, sub registry.Subscription) (bool, error) {
	app, err := a.applications.Get(ctx, sub.ApplicationID)
	if errors.Is(err, registry.ErrNotFound) {
		return false, nil
	}
	return err == nil && c.owns(app), err
}

// subVisible reports whether the caller may see sub: every caller with a
// role that reads all subscriptions, else the owner of its application.
func (a *API) subVisible(ctx context.Context, c access, sub registry.Subscription) (bool, error) {
	if c.has(allSubs) {
		return true, nil
	}
	return a.ownsSub(ctx, c, sub)
}

func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request, reqID string) {
	limit, after, ok := a.pageParams(w, r, reqID)
	if !ok {
		return
	}
	ctx, q := r.Context(), r.URL.Query()
	c := accessOf(ctx)
	list, err := a.subscriptions.List(ctx, registry.SubscriptionFilter{ApplicationID: q.Get("application"), API: q.Get("api")})
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	if !c.has(allSubs) {
		// A developer's own applications' subscriptions only.
		var own []registry.Application
		if c.subject != "" {
			if own, err = a.applications.List(ctx, c.subject); err != nil {
				a.fail(w, reqID, err)
				return
			}
		}
		list = slices.DeleteFunc(list, func(s registry.Subscription) bool {
			return !slices.ContainsFunc(own, func(app registry.Application) bool { return app.ID == s.ApplicationID })
		})
	}
	writeJSON(w, http.StatusOK, paginate(list, func(x registry.Subscription) string { return x.ID }, after, limit))
}

func (a *API) createSubscription(w http.ResponseWriter, r *http.Request, reqID string) {
	var req SubscriptionRequest
	if !a.decode(w, r, reqID, &req) {
		return
	}
	ctx := r.Context()
	if c := accessOf(ctx); !c.has(platformOnly) {
		// Developers subscribe their own applications only. The
		// owner is checked before the write, not with it: only a
		// platform administrator can move an application to another
		// owner.
		app, err := a.applications.Get(ctx, req.ApplicationID)
		if err == nil && !c.owns(app) {
			err = registry.ErrNotFound
		}
		if err != nil {
			a.failApp(w, reqID, "application", req.ApplicationID, err)
			return
		}
	}
	sub, err := a.subscriptions.Create(ctx, registry.SubscriptionSpec{
		ApplicationID: req.ApplicationID, API: req.API, Version: req.Version, Plan: req.Plan,
	})
	if err != nil {
		a.failApp(w, reqID, "application", req.ApplicationID, err)
		return
	}
	w.Header().Set("ETag", etag(sub))
	w.Header().Set("Location", "/admin/v1/subscriptions/"+sub.ID)
	writeJSON(w, http.StatusCreated, sub)
}

func (a *API) getSubscription(w http.ResponseWriter, r *http.Request, reqID string) {
	id := r.PathValue("sub_id")
	sub, err := a.subscriptions.Get(r.Context(), id)
	if err == nil {
		var visible bool
		if visible, err = a.subVisible(r.Context(), accessOf(r.Context()), sub); err == nil && !visible {
			err = registry.ErrNotFound
		}
	}
	if err != nil {
		a.failApp(w, reqID, "subscription", id, err)
		return
	}
	w.Header().Set("ETag", etag(sub))
	writeJSON(w, http.StatusOK, sub)
}

func (a *API) setSubscriptionState(w http.ResponseWriter, r *http.Request, reqID string) {
	id := r.PathValue("sub_id")
	var req SubscriptionStateRequest
	if !a.decode(w, r, reqID, &req) {
		return
	}
	ctx := r.Context()
	c := accessOf(ctx)
	sub, err := a.subscriptions.SetState(ctx, id, req.State, func(sub registry.Subscription) error {
		if !c.has(anyState) {
			switch own, err := a.ownsSub(ctx, c, sub); {
			case err != nil:
				return err
			case !own && c.has(allSubs):
				return &forbidden{anyState, "only platform administrators and approvers may change another owner's subscription"}
			case !own:
				return registry.ErrNotFound
			case req.State != registry.StateCancelled:
				// A developer may give up a subscription, never
				// resume one an approver suspended.
				return &forbidden{anyState, "only platform administrators and approvers may suspend or resume a subscription; its owner may cancel it"}
			}
		}
		return preconditions(r, func() (string, bool) { return etag(sub), true })
	})
	if err != nil {
		a.failApp(w, reqID, "subscription", id, err)
		return
	}
	w.Header().Set("ETag", etag(sub))
	writeJSON(w, http.StatusOK, sub)
}
