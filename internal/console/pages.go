package console

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/registry"
)

// pageDef is one page of the console and the roles that may see it. The
// table is the one place that says who sees what.
type pageDef struct {
	Name  string
	Title string
	Roles []string
}

var (
	pageCatalog = pageDef{"catalog", "Catalog", []string{RolePlatform, RolePublisher, RoleApprover, RoleDeveloper, RoleAuditor}}
	// Developers see only the applications they own.
	pageApplications  = pageDef{"applications", "Applications", []string{RolePlatform, RoleDeveloper, RoleApprover, RoleAuditor}}
	pageSubscriptions = pageDef{"subscriptions", "Subscriptions", []string{RolePlatform, RolePublisher, RoleApprover, RoleDeveloper, RoleAuditor}}
	pageClients       = pageDef{"clients", "Clients", []string{RolePlatform, RoleDeveloper, RoleAuditor}}
	pageAudit         = pageDef{"audit", "Audit trail", []string{RolePlatform, RoleAuditor}}
	pages             = []pageDef{pageCatalog, pageApplications, pageSubscriptions, pageClients, pageAudit}

	// catalogWriters may move an API version through its lifecycle (the
	// admin API's catalog roles).
	catalogWriters = []string{RolePlatform, RolePublisher}
)

func (p pageDef) allows(scopes []string) bool { return holdsAny(scopes, p.Roles) }

// holdsAny reports whether scopes include one of roles.
func holdsAny(scopes, roles []string) bool {
	return slices.ContainsFunc(roles, func(r string) bool { return slices.Contains(scopes, r) })
}

// view is what every template gets.
type view struct {
	Title   string
	Active  string
	Subject string
	// User is the operator's username, or the subject without one.
	User  string
	Roles []string
	Nav   []pageDef
	CSRF  string
	// Message is the page's warning; Notice a confirmation of a change.
	Message string
	Notice  string
	Data    any
}

// caller is a signed-in operator on a page.
type caller struct {
	s  session
	pr admin.Principal
}

// page wraps a page's handler: the caller must hold a valid session whose
// access token still verifies (revoked tokens and removed roles stop at
// once, as for the admin API) and one of the page's roles.
func (c *Console) page(def pageDef, h func(http.ResponseWriter, *http.Request, caller, *view)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		cl, ok := c.authenticate(w, r)
		if !ok {
			return
		}
		v := c.newView(cl, def)
		if !def.allows(cl.pr.Scopes) {
			v.Message = "Your roles do not include this page. It needs one of: " + strings.Join(def.Roles, ", ") + "."
			c.render(w, r, http.StatusForbidden, "forbidden.html", v)
			return
		}
		h(w, r, cl, &v)
	}
}

// action wraps a form's handler: as page, plus the caller must hold one
// of roles and the form must carry the session's CSRF token (both
// checked before the handler reads anything else). The handler runs with
// the caller as the audit actor and the request as the origin.
func (c *Console) action(def pageDef, roles []string, h func(http.ResponseWriter, *http.Request, caller, *view)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		cl, ok := c.authenticate(w, r)
		if !ok {
			return
		}
		v := c.newView(cl, def)
		if !validCSRF(r, cl.s) {
			v.Message = "The form was not sent from this console session. Reload the page and try again."
			c.render(w, r, http.StatusForbidden, "forbidden.html", v)
			return
		}
		if !holdsAny(cl.pr.Scopes, roles) {
			v.Message = "Your roles do not allow this change. It needs one of: " + strings.Join(roles, ", ") + "."
			c.render(w, r, http.StatusForbidden, "forbidden.html", v)
			return
		}
		reqID := newRequestID()
		ctx := audit.WithActor(r.Context(), actorOf(cl.pr))
		ctx = audit.WithOrigin(ctx, audit.Origin{SourceIP: sourceIP(r), RequestID: reqID})
		h(w, r.WithContext(ctx), cl, &v)
	}
}

// maxForm bounds a form's body; the console's forms are a few fields.
const maxForm = 64 << 10

// actorOf is the audit actor of a console operator, built as the admin
// API builds it from a verified token: the user, the console client they
// came through and their admin roles.
func actorOf(pr admin.Principal) audit.Actor {
	a := audit.Actor{Kind: audit.KindUser, Subject: pr.Subject, ClientID: pr.ClientID}
	for _, s := range pr.Scopes {
		if slices.Contains(AllRoles(), s) && !slices.Contains(a.Roles, s) {
			a.Roles = append(a.Roles, s)
		}
	}
	return a
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// newRequestID names one change in the audit trail and the log.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// authenticate answers the sign-in page itself when there is no valid
// session.
func (c *Console) authenticate(w http.ResponseWriter, r *http.Request) (caller, bool) {
	s, err := c.readSession(r)
	if err != nil {
		c.signedOut(w, r, http.StatusUnauthorized, "")
		return caller{}, false
	}
	pr, err := c.o.Verifier.VerifyAdminToken(r.Context(), s.AccessToken)
	if err != nil || pr.ClientID != ClientID {
		c.log.Info("console session refused", "err", err)
		c.clearCookie(w, sessionCookie, http.SameSiteStrictMode)
		c.signedOut(w, r, http.StatusUnauthorized, "Your session ended. Please sign in again.")
		return caller{}, false
	}
	return caller{s: s, pr: pr}, true
}

func (c *Console) newView(cl caller, active pageDef) view {
	v := view{Title: active.Title, Active: active.Name, Subject: cl.pr.Subject, User: cmp.Or(cl.s.Username, cl.pr.Subject), CSRF: cl.s.CSRF}
	for _, s := range cl.pr.Scopes {
		if strings.HasPrefix(s, "admin:") {
			v.Roles = append(v.Roles, strings.TrimPrefix(s, "admin:"))
		}
	}
	for _, p := range pages {
		if p.allows(cl.pr.Scopes) {
			v.Nav = append(v.Nav, p)
		}
	}
	return v
}

// home sends a signed-in operator to the first page their roles allow.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	cl, ok := c.authenticate(w, r)
	if !ok {
		return
	}
	v := c.newView(cl, pageDef{Title: "Console"})
	if len(v.Nav) == 0 {
		v.Message = "You are signed in, but your roles include no admin role, so there is nothing to show."
		c.render(w, r, http.StatusForbidden, "forbidden.html", v)
		return
	}
	http.Redirect(w, r, Path+"/"+v.Nav[0].Name, http.StatusSeeOther)
}

func (c *Console) clients(w http.ResponseWriter, r *http.Request, _ caller, v *view) {
	list, err := c.o.Clients.List(r.Context())
	if err != nil {
		c.fail(w, r, "list clients", err)
		return
	}
	v.Data = struct{ Clients []registry.ClientInfo }{list}
	c.render(w, r, http.StatusOK, "clients.html", *v)
}

// auditPage is the number of records per page.
const auditPage = 50

type auditData struct {
	Actor, Action string
	Records       []audit.Record
	Next          string
}

func (c *Console) audit(w http.ResponseWriter, r *http.Request, _ caller, v *view) {
	q := r.URL.Query()
	d := auditData{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action"))}
	var after int64
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			v.Message = "The page cursor is not valid."
			c.render(w, r, http.StatusBadRequest, "forbidden.html", *v)
			return
		}
		after = n
	}
	recs, next, err := c.o.Audit.List(r.Context(), audit.Filter{Actor: d.Actor, Action: d.Action}, after, auditPage)
	if err != nil {
		c.fail(w, r, "list audit", err)
		return
	}
	d.Records = recs
	if next > 0 {
		d.Next = strconv.FormatInt(next, 10)
	}
	v.Data = d
	c.render(w, r, http.StatusOK, "audit.html", *v)
}

// signedOut shows the sign-in page with status and an optional message.
func (c *Console) signedOut(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.render(w, r, status, "signin.html", view{Title: "Sign in", Message: msg})
}

// fail logs an internal error and shows a page without its text.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	c.log.Error("console: "+what, "err", err, "path", r.URL.Path)
	c.render(w, r, http.StatusInternalServerError, "error.html", view{Title: "Error", Message: "Something went wrong. The cause has been logged."})
}

// render executes a template into a buffer first, so a failure does not
// leave half a page.
func (c *Console) render(w http.ResponseWriter, _ *http.Request, status int, name string, v view) {
	var buf bytes.Buffer
	if err := c.pages.ExecuteTemplate(&buf, name, v); err != nil {
		c.log.Error("console: render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // the client went away; nothing to do
}
