package config

import (
	"errors"
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
}
