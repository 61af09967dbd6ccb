package registry

import "slices"

// postLogoutRedirectURIs checks the post_logout_redirect_uris of OpenID
// Connect RP-Initiated Logout 1.0 §3.1. They get the rules of redirect
// URIs (checkRedirectURI): the end-session endpoint sends a browser to
// them just as the authorization endpoint sends one to a redirect URI,
// so a loose one would make the issuer an open redirector all the same.
// Only a client that signs users in (authorization_code) has a login
// session to end, so only such a client may register them.
func postLogoutRedirectURIs(uris []string, public bool, grants []string) ([]string, error) {
	var out []string
	for _, raw := range uris {
		if err := checkRedirectURI("post-logout-redirect-uri", raw, public); err != nil {
			return nil, err
		}
		if !slices.Contains(out, raw) {
			out = append(out, raw)
		}
	}
	if len(out) > maxURIs {
		return nil, invalid("post-logout-redirect-uri", "at most %d", maxURIs)
	}
	if len(out) > 0 && !slices.Contains(grants, GrantAuthorizationCode) {
		return nil, invalid("post-logout-redirect-uri", "post-logout redirect URIs are used only by authorization_code")
	}
	return out, nil
}
