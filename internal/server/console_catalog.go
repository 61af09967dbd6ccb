package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/console"
	"github.com/portcullis/portcullis/internal/publish"
	"github.com/portcullis/portcullis/internal/store"
)

var (
	_ console.CatalogReader = consoleCatalog{}
	_ console.VersionReader = consoleVersions{}
	_ console.StateSetter   = consoleVersions{}
)

// consoleCatalog shows the stored catalog's versions to the console.
type consoleCatalog struct{ db *store.DB }

func (c consoleCatalog) APIVersions(ctx context.Context) ([]console.APIVersion, error) {
	vs, err := c.db.ListAPIVersions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]console.APIVersion, len(vs))
	for i, v := range vs {
		out[i] = console.APIVersion{Name: v.Name, Version: v.Version, BasePath: v.BasePath, State: v.State,
			Tags: v.Tags, Owners: v.Owners, UpdatedAt: v.UpdatedAt}
	}
	return out, nil
}

// consoleVersions shows one stored version to the console and moves it
// through its lifecycle with the publish service, as the operator the
// context carries.
type consoleVersions struct{ svc *publish.Service }

func (c consoleVersions) Version(ctx context.Context, name, version string) (console.VersionDetail, error) {
	e, err := c.svc.Version(ctx, name, version)
	if err != nil {
		return console.VersionDetail{}, consoleError(err)
	}
	return versionDetail(e), nil
}

// SetState checks the operator's fingerprint and the lifecycle move
// against the version as stored, in the same load the write is planned
// on, so a change made since the page was read is refused.
func (c consoleVersions) SetState(ctx context.Context, name, version, to, fingerprint string) (console.VersionDetail, error) {
	match := func(cur *catalog.VersionEntry) error {
		if cur == nil {
			return console.ErrNotFound
		}
		if fingerprint == "" || versionFingerprint(*cur) != fingerprint {
			return console.ErrStale
		}
		from := cmp.Or(cur.State, catalog.StateDraft)
		if from == catalog.State(to) {
			return &console.RefusedError{Reasons: []string{"the version is already " + to}}
		}
		var te *catalog.TransitionError
		if err := catalog.CheckTransition(from, catalog.State(to)); errors.As(err, &te) {
			return &console.RefusedError{Reasons: []string{te.Error()}}
		} else if err != nil {
			return err
		}
		return nil
	}
	e, err := c.svc.SetState(ctx, name, version, catalog.State(to), match)
	if err != nil {
		return console.VersionDetail{}, consoleError(err)
	}
	return versionDetail(e), nil
}

// consoleError maps the publish service's errors to the console's; the
// reasons of a refused change are the service's operator-facing lines.
func consoleError(err error) error {
	switch {
	case errors.Is(err, publish.ErrNotFound):
		return fmt.Errorf("%w: %w", console.ErrNotFound, err)
	case errors.Is(err, publish.ErrStale):
		return fmt.Errorf("%w: %w", console.ErrStale, err)
	case errors.Is(err, publish.ErrInvalid):
		return &console.RefusedError{Reasons: refusalReasons(err)}
	}
	return err
}

// refusalReasons are the lines of an ErrInvalid error after its first
// ("catalog document refused:"), one reason each.
func refusalReasons(err error) []string {
	lines := strings.Split(err.Error(), "\n")
	var out []string
	for _, l := range lines[1:] {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = []string{strings.TrimSpace(lines[0])}
	}
	return out
}

// versionFingerprint is an entity tag of a stored version: it changes
// whenever any of its fields does.
func versionFingerprint(e catalog.VersionEntry) string {
	b, err := json.Marshal(e)
	if err != nil {
		return "" // unreachable for a stored entry; "" never matches
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// versionDetail is e as the console shows it: the upstream reduced to
// its host (no credentials, path or query), the moves the lifecycle
// allows from its state.
func versionDetail(e catalog.VersionEntry) console.VersionDetail {
	state := cmp.Or(e.State, catalog.StateDraft)
	d := console.VersionDetail{
		Name: e.Name, Version: e.Version, BasePath: e.BasePath, State: string(state),
		Description: e.Description, Owners: e.Owners, Tags: e.Tags,
		Public: e.Public, Audiences: e.Audiences,
		Deprecated: e.Deprecated, Sunset: e.Sunset, Gateways: e.Gateways,
		Limits:      consoleLimits(e.Limits),
		Fingerprint: versionFingerprint(e),
	}
	if u, err := url.Parse(e.Upstream); err == nil {
		d.UpstreamHost = u.Host
	}
	for _, op := range e.Operations {
		d.Operations = append(d.Operations, console.Operation{
			Method: op.Method, Path: op.Path, Scopes: op.Scopes, Public: op.Public, Limits: consoleLimits(op.Limits),
		})
	}
	for _, to := range catalog.States() {
		if to != state && catalog.CheckTransition(state, to) == nil {
			d.NextStates = append(d.NextStates, string(to))
		}
	}
	return d
}

func consoleLimits(ls []catalog.Limit) []console.Limit {
	var out []console.Limit
	for _, l := range ls {
		amount := l.Rate
		if amount == "" {
			amount = l.Quota
			if l.Rolling {
				amount += " (rolling)"
			}
		}
		out = append(out, console.Limit{Name: l.Name, Amount: amount, Burst: l.Burst, Key: l.Key})
	}
	return out
}
