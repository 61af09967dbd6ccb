package admin

import (
	"net/http"
	"slices"
)

// Role sets of the route table.
var (
	platformOnly = []Role{RolePlatform}
	readers      = []Role{RolePlatform, RoleAuditor}
	clientRead   = []Role{RolePlatform, RoleDeveloper, RoleAuditor}
	anyRole      = Roles
)

// route is one row of the route table: the only place an admin route, the
// roles it admits and its OpenAPI description are written. Register, the
// OpenAPI document and docs/admin-api.md all follow it.
type route struct {
	method string
	// path is a net/http ServeMux path; {name} segments are path
	// parameters ({name...} the rest of the path).
	path    string
	roles   []Role
	op      string // OpenAPI operationId
	summary string
	// query names the query parameters the route reads.
	query []string
	// request and response name component schemas ("" for none); status
	// is the success status.
	request, response string
	status            int
	// etag marks a resource answered with an ETag and honouring If-Match.
	etag bool
	// part reports whether the finished part the route serves runs on
	// this node; nil means always.
	part   func(a *API) bool
	handle func(a *API, w http.ResponseWriter, r *http.Request, reqID string)
}

func (rt route) pattern() string { return rt.method + " " + rt.path }

var (
	hasClients = func(a *API) bool { return a.clients != nil }
	hasUsers   = func(a *API) bool { return a.users != nil }
	hasKeys    = func(a *API) bool { return a.keys != nil }
	hasAudit   = func(a *API) bool { return a.audit != nil }
	pageQuery  = []string{"limit", "cursor"}
)

// routes is the route table: the core rows below plus one slice per
// concept that has its own file.
var routes = slices.Concat(coreRoutes, catalogRoutes, documentRoutes, applicationRoutes, auditVerifyRoutes)

// coreRoutes are the routes of clients, users, keys, the audit trail and
// the limits.
var coreRoutes = []route{
	{method: "GET", path: "/admin/v1/openapi.json", roles: anyRole, op: "getOpenAPI", summary: "This document",
		response: "OpenAPI", status: 200, handle: (*API).openAPI},

	{method: "GET", path: "/admin/v1/clients", roles: clientRead, op: "listClients", summary: "List OAuth clients",
		query: pageQuery, response: "ClientPage", status: 200, part: hasClients, handle: (*API).listClients},
	{method: "POST", path: "/admin/v1/clients", roles: platformOnly, op: "createClient", summary: "Register a client; the secret is shown once",
		request: "ClientRequest", response: "Client", status: 201, etag: true, part: hasClients, handle: (*API).createClient},
	{method: "GET", path: "/admin/v1/clients/{client_id}", roles: clientRead, op: "getClient", summary: "Show a client",
		response: "Client", status: 200, etag: true, part: hasClients, handle: (*API).getClient},
	{method: "DELETE", path: "/admin/v1/clients/{client_id}", roles: platformOnly, op: "deleteClient", summary: "Delete a client with its tokens",
		status: 204, etag: true, part: hasClients, handle: (*API).deleteClient},
	{method: "POST", path: "/admin/v1/clients/{client_id}/rotate-secret", roles: platformOnly, op: "rotateClientSecret",
		summary: "Replace a client's secret; the new one is shown once", response: "Client", status: 200, etag: true,
		part: hasClients, handle: (*API).rotateClientSecret},

	{method: "GET", path: "/admin/v1/users", roles: readers, op: "listUsers", summary: "List users",
		query: pageQuery, response: "UserPage", status: 200, part: hasUsers, handle: (*API).listUsers},
	{method: "POST", path: "/admin/v1/users", roles: platformOnly, op: "createUser", summary: "Create a user",
		request: "UserRequest", response: "User", status: 201, etag: true, part: hasUsers, handle: (*API).createUser},
	{method: "GET", path: "/admin/v1/users/{username}", roles: readers, op: "getUser", summary: "Show a user",
		response: "User", status: 200, etag: true, part: hasUsers, handle: (*API).getUser},
	{method: "DELETE", path: "/admin/v1/users/{username}", roles: platformOnly, op: "deleteUser", summary: "Delete a user with their sessions and tokens",
		status: 204, etag: true, part: hasUsers, handle: (*API).deleteUser},

	{method: "GET", path: "/admin/v1/keys", roles: readers, op: "listKeys", summary: "List signing keys (public facts only)",
		response: "KeyList", status: 200, part: hasKeys, handle: (*API).listKeys},
	{method: "POST", path: "/admin/v1/keys/rotate", roles: platformOnly, op: "rotateKeys", summary: "Rotate signing keys",
		request: "RotateKeysRequest", response: "KeyList", status: 200, part: hasKeys, handle: (*API).rotateKeys},

	{method: "GET", path: "/admin/v1/audit", roles: readers, op: "listAudit", summary: "Read the audit trail",
		query: []string{"actor", "action", "target", "since", "until", "limit", "cursor"}, response: "AuditPage", status: 200,
		part: hasAudit, handle: (*API).listAudit},

	{method: "GET", path: "/admin/v1/blocks", roles: readers, op: "listBlocks", summary: "List the gateway's abuse blocks",
		response: "BlockList", status: 200, handle: (*API).listBlocks},
	{method: "DELETE", path: "/admin/v1/blocks/{key...}", roles: platformOnly, op: "liftBlock", summary: "Lift a block",
		status: 204, handle: (*API).liftBlock},
	{method: "GET", path: "/admin/v1/quotas/{client_id}", roles: clientRead, op: "getQuotas", summary: "A client's quota state",
		response: "Quotas", status: 200, handle: (*API).quota},
}
