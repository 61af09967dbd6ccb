package config

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/policy"
)

// Validate checks the gateway section on its own, as Config.Validate
// does, with its copy of the ratelimit section; errors name the field
// (gateway.apis[0].base_path, ratelimit.plans.gold[0].rate) without a
// file or line. Call ApplyDefaults first.
func (g *Gateway) Validate() error {
	v := &validator{c: &Config{Gateway: *g, RateLimit: g.RateLimit}}
	v.gateway()
	v.rateLimitBackend()
	return errors.Join(v.errs...)
}

// catalogFields names the catalog's fields as this file writes them.
var catalogFields = catalog.Fields{Gateway: "gateway", RateLimit: "ratelimit", Within: "the file"}

// gateway checks the gateway section and the catalog's part of the
// ratelimit section with the catalog's one validation, placing each
// problem at its line.
func (v *validator) gateway() {
	if v.c.Gateway.CatalogPoll != 0 {
		v.duration("gateway.catalog_poll", v.c.Gateway.CatalogPoll, duration.Bounds{Min: 100 * time.Millisecond, Max: time.Hour})
	}
	// One rule for group names, the catalog's, so the file and the
	// catalog spell a group alike. Empty is the default group (a
	// configuration built in code may skip ApplyDefaults).
	if g := v.c.Gateway.Group; g != "" {
		if why := catalog.GroupNameProblem(g); why != "" {
			v.add("gateway.group", why, nil)
		}
	}
	snap := v.c.Gateway.Snapshot()
	snap.RateLimit = v.c.RateLimit.model()
	for _, p := range snap.Problems(catalogFields) {
		var ce *policy.CompileError
		if errors.As(p.Err, &ce) {
			v.exprError(p.Field, ce)
			continue
		}
		v.add(p.Field, p.Msg, p.Err)
	}
	v.tokenHandler()
}

// tokenHandler checks gateway.token_handler with the token handler's own
// validation, then against the file's APIs: an agent's endpoints must not
// hide an API, and an API an app fronts must answer the app's
// credentialed CORS (tokenhandler.SPA.APICORSProblems). Stored APIs are
// not known here; the gateway serves them as their own cors says.
func (v *validator) tokenHandler() {
	th := &v.c.Gateway.TokenHandler
	for _, p := range th.Problems("gateway.token_handler") {
		v.add(p.Field, p.Msg, nil)
	}
	for i := range th.SPAs {
		spa := &th.SPAs[i]
		f := fmt.Sprintf("gateway.token_handler.spas[%d]", i)
		for j := range v.c.Gateway.APIs {
			api := &v.c.Gateway.APIs[j]
			base := catalog.NormalizeBasePath(api.BasePath)
			if spa.PathPrefix != "" && base != "/" && base != "" &&
				(catalog.BasePathMatches(base, spa.PathPrefix) || catalog.BasePathMatches(spa.PathPrefix, base)) {
				v.add(f+".path_prefix", fmt.Sprintf("overlaps the base path of API %q (gateway.apis[%d]): the agent answers every request under its prefix", api.Name, j), nil)
			}
			if base == "" || api.Public || !slices.ContainsFunc(spa.APIPaths, func(p string) bool {
				// The API lies under an api_path, or an api_path lies
				// inside it: either way some of its calls carry cookies.
				return catalog.BasePathMatches(p, base) || catalog.BasePathMatches(base, p)
			}) {
				continue
			}
			field := fmt.Sprintf("gateway.apis[%d].cors", j)
			if api.CORS == nil {
				field = fmt.Sprintf("gateway.apis[%d]", j)
			}
			for _, msg := range spa.APICORSProblems(api.CORS) {
				v.add(field, fmt.Sprintf("fronted by %s (%s): %s", f, spa.Name, msg), nil)
			}
		}
	}
}
