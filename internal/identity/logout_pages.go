package identity

import "net/http"

// LogoutPage is the confirmation an end-session request shows when it
// cannot prove it comes from the user's own application (OpenID Connect
// RP-Initiated Logout 1.0 §2 and §6: a logout request is easy to forge
// cross-site, so the user is asked). Its form posts back the sealed
// request with a CSRF token, like the login and consent forms.
type LogoutPage struct {
	// Action is the URL the form posts to.
	Action string
	// Request is the sealed pending logout request, posted back in
	// FieldRequest.
	Request string
	// CSRF is the token from CSRF.Token, posted back in FieldCSRF.
	CSRF string
	// ClientName names the application asking; empty when the request
	// named none.
	ClientName string
	// Username names the signed-in user; empty when unknown.
	Username string
}

// SignedOutPage ends a logout that does not redirect back to an
// application (none was named, or its post_logout_redirect_uri is not
// registered; RP-Initiated Logout 1.0 §3).
type SignedOutPage struct {
	// ClientName names the application the user came from, if known.
	ClientName string
}

// Logout writes the logout confirmation page.
func (p *Pages) Logout(w http.ResponseWriter, d LogoutPage) {
	p.render(w, http.StatusOK, p.logout, d)
}

// SignedOut writes the page that says the user is signed out.
func (p *Pages) SignedOut(w http.ResponseWriter, d SignedOutPage) {
	p.render(w, http.StatusOK, p.signedOut, d)
}
