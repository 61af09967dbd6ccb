package gateway

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/backendtoken"
	"github.com/portcullis/portcullis/internal/catalog"
)

// backendSource returns the token source of c's upstream_token, nil when
// it has none. A source whose configuration (secret included) did not
// change is kept across reloads, with its cached tokens.
func (b *builder) backendSource(s *catalog.Snapshot, c *catalog.API) (*backendtoken.Source, error) {
	ut := c.UpstreamToken
	if ut == nil {
		return nil, nil
	}
	name := ut.Issuer
	if name == "" {
		name = c.Issuer
	}
	ic := s.IssuerFor(&catalog.API{Issuer: name})
	if ic == nil {
		return nil, errors.New("upstream_token: no such issuer") // Validate refuses this first
	}
	is := b.issuers[ic.Issuer]
	if is == nil || is.secret == "" {
		return nil, errors.New("upstream_token: the issuer has no client secret")
	}
	cfg := backendtoken.Config{
		Mode:          ut.Mode,
		TokenEndpoint: ut.TokenEndpoint,
		Issuer:        ic.Issuer,
		ClientID:      ic.ClientID,
		ClientSecret:  is.secret,
		Audience:      ut.Audience,
		Scope:         ut.Scope,
		RefreshBefore: ut.RefreshBefore.Duration(),
	}
	key := backendSourceKey(cfg)
	if src := b.backend[key]; src != nil {
		return src, nil
	}
	src := b.oldBackend[key]
	if src == nil {
		var err error
		// The sealing key of shared entries comes from the gateway's
		// client secret: every node has it, the shared store does not.
		sealKey, err := hkdf.Key(sha256.New, []byte(is.secret), nil, "portcullis backend-token cache "+ic.Issuer, 32)
		if err != nil {
			return nil, err
		}
		src, err = backendtoken.New(cfg, b.f.client, b.backendShared, sealKey, b.logger, b.now)
		if err != nil {
			return nil, err
		}
	}
	b.backend[key] = src
	return src, nil
}

// backendSourceKey identifies a source's configuration; the secret is
// hashed in so a rotated secret makes a new source (the key is held in
// memory only).
func backendSourceKey(c backendtoken.Config) string {
	h := sha256.New()
	for _, v := range []string{c.Mode, c.TokenEndpoint, c.Issuer, c.ClientID, c.ClientSecret,
		strings.Join(c.Audience, " "), strings.Join(c.Scope, " "), c.RefreshBefore.String()} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// backendTokenStep puts the token obtained for the upstream in place of
// the caller's verified JWT, which the header step had set.
type backendTokenStep struct {
	src      *backendtoken.Source
	exchange bool
	api      string
	logger   *slog.Logger
	next     http.Handler
}

func newBackendToken(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.api.backendToken == nil {
		return next, nil
	}
	return &backendTokenStep{
		src:      c.api.backendToken,
		exchange: c.apiCfg.UpstreamToken.Mode == catalog.UpstreamTokenExchange,
		api:      c.api.name,
		logger:   c.api.upstream.logger,
		next:     next,
	}, nil
}

func (s *backendTokenStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	subject := ""
	if s.exchange {
		if ex.verified == nil {
			// A public operation: there is no caller to exchange for, and
			// the header step has already removed any Authorization.
			s.next.ServeHTTP(w, r)
			return
		}
		subject = ex.raw
	}
	tok, err := s.src.Token(r.Context(), subject)
	if err != nil {
		s.fail(w, r, ex, err)
		return
	}
	r.Header["Authorization"] = []string{"Bearer " + tok}
	s.next.ServeHTTP(w, r)
}

// fail answers a request whose upstream token could not be obtained: 403
// when the authorization server refuses the caller (its exchange policy
// does not let this caller reach the upstream), 502 when the gateway's
// own client or the server failed, which is the operator's to fix.
func (s *backendTokenStep) fail(w http.ResponseWriter, r *http.Request, ex *exchange, err error) {
	var re *backendtoken.RefusedError
	level := slog.LevelWarn
	switch {
	case r.Context().Err() != nil:
		ex.problem(problemBadGateway, decisionClientClosed)
		level = slog.LevelDebug
	case errors.As(err, &re) && re.Denied():
		ex.problem(problemAccessDenied, decisionDenyPolicy)
		level = slog.LevelInfo
	default:
		ex.problem(problemBadGateway, decisionBadGateway)
	}
	s.logger.LogAttrs(r.Context(), level, "upstream token not obtained",
		slog.String("api", s.api),
		slog.String("request_id", ex.id),
		slog.String("error", err.Error()))
}
