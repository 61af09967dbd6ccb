package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

func (c *Console) oauthConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     ClientID,
		ClientSecret: c.o.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.o.Issuer + "/oauth2/authorize",
			TokenURL:  c.o.Issuer + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader, // client_secret_basic
		},
		RedirectURL: c.o.BaseURL + CallbackPath,
		Scopes:      append([]string{"openid", "profile"}, c.o.Scopes...),
	}
}

// login starts a sign-in: a fresh state, nonce and PKCE verifier are
// sealed in the login cookie and the browser goes to the issuer. It
// changes nothing but that cookie, so a GET is safe; the callback accepts
// only the state this browser was given.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	p := pendingLogin{
		State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(),
		Expires: c.o.Now().Add(loginTTL),
	}
	if err := c.setSealed(w, loginCookie, loginAAD, p, loginTTL, http.SameSiteLaxMode); err != nil {
		c.fail(w, r, "seal login cookie", err)
		return
	}
	u := c.oauthConfig().AuthCodeURL(p.State,
		oauth2.S256ChallengeOption(p.Verifier),
		oauth2.SetAuthURLParam("nonce", p.Nonce))
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// callback finishes a sign-in: the state must be the one sealed in this
// browser's login cookie (RFC 6749 §10.12), the code is exchanged with
// the PKCE verifier (RFC 7636 §4.5) and the ID token must carry the nonce
// (OIDC Core §3.1.3.7). The access token is then checked as every page
// checks it, and sealed into the session cookie.
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	var p pendingLogin
	err := c.openSealed(r, loginCookie, loginAAD, &p)
	c.clearCookie(w, loginCookie, http.SameSiteLaxMode)
	q := r.URL.Query()
	switch {
	case err != nil || !c.o.Now().Before(p.Expires):
		c.signedOut(w, r, http.StatusBadRequest, "The sign-in expired or was started in another browser. Please sign in again.")
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(p.State)) != 1:
		c.signedOut(w, r, http.StatusBadRequest, "The sign-in could not be verified. Please sign in again.")
		return
	case q.Get("error") != "":
		// The issuer's error code is a fixed token (RFC 6749 §4.1.2.1);
		// its description is not shown, as an attacker could craft it.
		c.log.Info("console sign-in refused by the issuer", "error", q.Get("error"))
		c.signedOut(w, r, http.StatusForbidden, "The sign-in was refused.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.o.HTTPClient)
	tok, err := c.oauthConfig().Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.Verifier))
	if err != nil {
		c.log.Info("console sign-in: code exchange failed", "err", err)
		c.signedOut(w, r, http.StatusBadGateway, "The sign-in could not be completed. Please try again.")
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := c.o.IDTokens.VerifyIDToken(ctx, rawID)
	if err == nil && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		err = errors.New("nonce mismatch")
	}
	if err != nil {
		c.log.Info("console sign-in: ID token refused", "err", err)
		c.signedOut(w, r, http.StatusBadRequest, "The sign-in could not be verified. Please sign in again.")
		return
	}
	pr, err := c.o.Verifier.VerifyAdminToken(ctx, tok.AccessToken)
	if err != nil {
		c.log.Info("console sign-in: access token refused", "err", err)
		c.signedOut(w, r, http.StatusForbidden, "The sign-in was refused.")
		return
	}
	exp := tok.Expiry
	if exp.IsZero() {
		exp = c.o.Now().Add(15 * time.Minute)
	}
	s := session{AccessToken: tok.AccessToken, Subject: pr.Subject, Username: idt.Username, CSRF: randomString(), Expires: exp}
	if err := c.setSealed(w, sessionCookie, sessionAAD, s, exp.Sub(c.o.Now()), http.SameSiteStrictMode); err != nil {
		c.fail(w, r, "seal session", err)
		return
	}
	// A page, not a redirect: a Strict cookie is not sent on a redirect
	// chain that began on another site (the issuer), so the first page
	// is requested from this origin's own document.
	c.render(w, r, http.StatusOK, "continue.html", view{Title: "Signed in"})
}

// logout forgets the session. A POST with the session's CSRF token, so
// no other site can sign the operator out.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	s, err := c.readSession(r)
	if err == nil && !validCSRF(r, s) {
		http.Error(w, "invalid CSRF token", http.StatusForbidden)
		return
	}
	c.clearCookie(w, sessionCookie, http.SameSiteStrictMode)
	http.Redirect(w, r, Path+"/", http.StatusSeeOther)
}

// validCSRF compares the form's token with the session's (synchronizer
// token pattern: the secret lives in the sealed session cookie).
func validCSRF(r *http.Request, s session) bool {
	got := r.PostFormValue("csrf_token")
	return got != "" && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.CSRF)) == 1
}
