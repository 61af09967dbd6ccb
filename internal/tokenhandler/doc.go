// Package tokenhandler is the token handler of single-page apps (the
// backend-for-frontend pattern): an OAuth agent that runs the
// authorization code flow as a confidential client on the SPA's behalf,
// and the cookie half of the gateway's OAuth proxy that turns the SPA's
// cookie back into the access token.
//
// The browser only ever holds HttpOnly, Secure, SameSite=Strict cookies
// whose content is sealed with AES-256-GCM (cookie.go); JavaScript in the
// page never sees a token, so cross-site scripting cannot steal one.
// State-changing calls carry a double-submit CSRF value in a header and
// come from an allowed origin (csrf.go, cors.go).
//
// The agent's endpoints (agent.go routes them) live under the SPA's path
// prefix on the gateway listener:
//
//	POST /login/start   the authorization request URL (login.go)
//	POST /login/end     finishes the code flow, sets the cookies (login.go)
//	GET  /session       whether a session exists, and its CSRF value (session.go)
//	GET  /claims        the ID token's claims (session.go)
//	GET  /userinfo      the issuer's userinfo (userinfo.go)
//	POST /refresh       the refresh grant (refresh.go)
//	POST /logout        revocation and cookie removal (logout.go)
//
// Handler.AccessToken and Handler.StripCookies (proxy.go) are what the
// gateway calls for requests to the APIs an SPA fronts.
//
// It must never issue tokens (the authorization server does), never put a
// token or a cookie value in a log line, a metric label or an error
// message, and never answer a credentialed CORS request from an origin
// that is not listed.
package tokenhandler
