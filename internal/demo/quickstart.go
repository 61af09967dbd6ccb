package demo

import (
	"fmt"
	"io"
	"path/filepath"
	"text/template"

	"github.com/portcullis/portcullis/internal/server"
)

// quickStartTemplate is everything `portcullis demo` prints. The secrets in
// it are the demo's own, printed on purpose so the commands can be pasted
// as they are; the users' passwords stay in demo.json.
const quickStartTemplate = `
Portcullis demo is running.

  Issuer      {{.Issuer}}
  Discovery   {{.Endpoints.Discovery}}
{{- if .AdminURL}}
  Admin       {{.AdminURL}}/healthz  {{.AdminURL}}/readyz  {{.AdminURL}}/metrics
{{- end}}
  Data        {{.Dir}}
{{- if .PreviousIssuer}}

  The issuer changed (it was {{.PreviousIssuer}}): tokens issued before
  no longer validate. demo.json now lists the new endpoints.
{{- end}}
{{- if .GatewayURL}}
  Gateway     {{.GatewayURL}}/warehouse  (backend {{.BackendURL}})
              {{.GatewayURL}}{{.CatalogBasePath}}  (stored catalog: {{.CatalogAPI}}, published)
{{- end}}
{{- if .SPAURL}}
  Web app     {{.SPAURL}}  (sign in as alice; no token ever reaches the page)
{{- end}}
{{with .Service}}
1. Get an access token with client credentials (RFC 6749 §4.4), as the
   warehouse service; the opaque token goes into $TOKEN:

  TOKEN=$(curl -s -u '{{.ClientID}}:{{.ClientSecret}}' \
    -d grant_type=client_credentials -d scope=list_items \
    {{$.Endpoints.Token}} \
    | sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p'); echo "$TOKEN"
{{end}}
{{- if .GatewayURL}}
2. Call the warehouse API through the gateway. It swaps the opaque token
   for a phantom JWT that only the backend sees:

  curl -s -H "Authorization: Bearer $TOKEN" {{.GatewayURL}}/warehouse/items

   Ordering needs order_item, which only head-office admins receive, so
   the service gets 403 insufficient_scope:

  curl -si -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"item":"crate-01"}' {{.GatewayURL}}/warehouse/orders
{{with .JWTService}}
   The same call with a JWT access token, and with a split token (the
   client holds only the JWT's signature):

  JWT=$(curl -s -u '{{.ClientID}}:{{.ClientSecret}}' -d grant_type=client_credentials \
    {{$.Endpoints.Token}} | sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p')
  curl -s -H "Authorization: Bearer $JWT" {{$.GatewayURL}}/warehouse/items
{{- end}}
{{- with .SplitService}}
  SPLIT=$(curl -s -u '{{.ClientID}}:{{.ClientSecret}}' -d grant_type=client_credentials \
    {{$.Endpoints.Token}} | sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p')
  curl -s -H "Authorization: Bearer $SPLIT" {{$.GatewayURL}}/warehouse/items
{{- end}}
{{end}}
{{- if .GatewayURL}}
   The stored catalog's version answers the same calls under its own
   base path ("portcullis export --data {{.Dir}}" shows it; apply edits it):

  curl -s -H "Authorization: Bearer $TOKEN" {{.GatewayURL}}{{.CatalogBasePath}}/items
{{end}}
{{- with .Gateway}}
3. Introspect the opaque token as the gateway does (RFC 7662), as plain
   JSON and as the phantom token (a signed JWT in the RFC 9068 shape):

  curl -s -u '{{.ClientID}}:{{.ClientSecret}}' -d "token=$TOKEN" {{$.Endpoints.Introspection}}
  curl -s -u '{{.ClientID}}:{{.ClientSecret}}' -H 'Accept: application/jwt' -d "token=$TOKEN" {{$.Endpoints.Introspection}}
{{end}}
{{- with .Service}}
4. Revoke it (RFC 7009); introspecting again answers {"active":false}, and
   the gateway refuses it once its cache entry ends ({{$.CacheTTL}} at most):

  curl -s -u '{{.ClientID}}:{{.ClientSecret}}' -d "token=$TOKEN" {{$.Endpoints.Revocation}}
{{end}}
{{- if .GatewayURL}}
5. The clinic API ({{.GatewayURL}}/clinic) holds patient records; its
   backend answers every record in full, and the gateway decides what each
   caller reads from the token's claims. Sign the clinic's staff in (the
   authorization code flow with PKCE, run headlessly) as the clinic-app
   client:

  GREY=$(portcullis demo-token --data {{.Dir}} --user dr-grey)
  RITA=$(portcullis demo-token --data {{.Dir}} --user rita)

   dr-grey, a doctor, sees only her own patients, with their diagnosis;
   the ssn is a JWE (dir, A256GCM) she cannot read:

  curl -s -H "Authorization: Bearer $GREY" {{.GatewayURL}}/clinic/patients

   rita, a receptionist who does the billing (ssn:read), sees every
   patient, no diagnosis, and the ssn in clear:

  curl -s -H "Authorization: Bearer $RITA" {{.GatewayURL}}/clinic/patients

   Requests are checked against the contract (400 with JSON pointers) and
   by the OWASP Core Rule Set (403) before the backend sees them:

  curl -s -H "Authorization: Bearer $GREY" -H 'Content-Type: application/json' \
    -d '{"text":"Peak flow improved"}' {{.GatewayURL}}/clinic/patients/P-0001/notes
  curl -s -H "Authorization: Bearer $GREY" -H 'Content-Type: application/json' \
    -d '{"text":1}' {{.GatewayURL}}/clinic/patients/P-0001/notes
  curl -s -H "Authorization: Bearer $GREY" -H 'Content-Type: application/json' \
    -d '{"text":"x\u0027 UNION SELECT password FROM users--"}' {{.GatewayURL}}/clinic/patients/P-0001/notes

   The field key is {{.ClinicKeyFile}} (docs/field-rules.md shows how
   to decrypt).
{{end}}
{{- if .SPAURL}}
6. The warehouse web app, {{.SPAURL}}, is a single-page app that never
   holds a token: it signs in through the gateway's token handler
   ({{.GatewayURL}}/bff/warehouse), which keeps the tokens in encrypted
   HttpOnly cookies, and calls {{.GatewayURL}}/warehouse with them. Open
   it in a browser, sign in as alice (her password is in demo.json), list
   the items, place an order, refresh the session and sign out
   (docs/token-handler.md explains the pattern).
{{end}}
{{- if and .AdminURL .Admin}}
7. The admin API ({{.AdminURL}}/admin/v1, described at
   {{.AdminURL}}/admin/v1/openapi.json): get a JWT access token as the
   {{.Admin.ClientID}} client (audience urn:portcullis:admin, role
   admin:platform) and list the clients:

  ADMIN=$(curl -s -u '{{.Admin.ClientID}}:{{.Admin.ClientSecret}}' \
    -d grant_type=client_credentials -d scope=admin:platform \
    {{.Endpoints.Token}} | sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p')
  curl -s -H "Authorization: Bearer $ADMIN" {{.AdminURL}}/admin/v1/clients

   or with the command line, remotely:

  PORTCULLIS_ADMIN_BEARER=$ADMIN portcullis clients list --server {{.AdminURL}}

8. The admin console: open {{.AdminURL}}/console/ and sign in as alice
   (a platform_admin; her password is in demo.json) to browse the catalog,
   the clients and the audit trail.
{{end}}
Every client, its secret and the users' passwords
({{range $i, $u := .Users}}{{if $i}}, {{end}}{{$u.Username}} ({{range $j, $r := $u.Roles}}{{if $j}}, {{end}}{{$r}}{{end}}){{end}}) are in
  {{.File}}   (mode 0600)
Users log in through the authorization code flow of warehouse-web,
warehouse-spa or clinic-app at {{.Endpoints.Authorization}}.

The next run of "portcullis demo" reuses this data. Stop with Ctrl-C.
`

var quickStart = template.Must(template.New("quickstart").Parse(quickStartTemplate))

// quickStartView feeds quickStartTemplate.
type quickStartView struct {
	Issuer         string
	PreviousIssuer string
	AdminURL       string
	Dir            string
	File           string
	Endpoints      Endpoints
	Service        *Client
	Gateway        *Client
	JWTService     *Client
	SplitService   *Client
	Admin          *Client
	Users          []User
	GatewayURL     string
	BackendURL     string
	CacheTTL       string
	// CatalogAPI and CatalogBasePath name the stored catalog's version.
	CatalogAPI      string
	CatalogBasePath string
	// ClinicKeyFile holds the clinic's field-encryption key.
	ClinicKeyFile string
	// SPAURL is the warehouse single-page app's page; empty when it is
	// not served.
	SPAURL string
}

func quickStartData(r *server.Running, dir string, f *File, previousIssuer, backendURL string) quickStartView {
	return quickStartView{
		Issuer:          r.Issuer,
		PreviousIssuer:  previousIssuer,
		AdminURL:        r.AdminURL,
		Dir:             dir,
		File:            filepath.Join(dir, demoStateFile),
		Endpoints:       demoEndpoints(r.Issuer),
		Service:         f.Client("warehouse-service-opaque"),
		Gateway:         f.Client("gateway"),
		JWTService:      f.Client("warehouse-service"),
		SplitService:    f.Client("warehouse-service-split"),
		Admin:           f.Client(demoAdminClient),
		Users:           f.Users,
		GatewayURL:      r.GatewayURL,
		BackendURL:      backendURL,
		CacheTTL:        demoCacheTTL.String(),
		CatalogAPI:      catalogAPIName + " " + catalogAPIVersion,
		CatalogBasePath: catalogAPIBasePath,
		ClinicKeyFile:   filepath.Join(dir, demoClinicKeyFile),
	}
}

func writeQuickStart(w io.Writer, v quickStartView) error {
	if err := quickStart.Execute(w, v); err != nil {
		return fmt.Errorf("print quick-start: %w", err)
	}
	return nil
}
