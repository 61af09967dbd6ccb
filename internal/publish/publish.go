// Package publish is the domain service of the stored API catalog: it
// plans a declarative document (`portcullis apply`) against what the
// store holds — field-by-field diff, lifecycle moves, clashes with the
// configuration file, validation as a catalog — applies the plan in one
// audited transaction that bumps the catalog revision, and exports the
// store back as a document.
//
// It never serves traffic and never imports the gateway: gateways read
// the stored catalog through catalog.Source, built in internal/server.
package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/store"
)

// Store is the part of the store the service reads; writes go through
// the Auditor.
type Store interface {
	CatalogRevision(ctx context.Context) (int64, error)
	ListAPIVersions(ctx context.Context) ([]store.APIVersion, error)
	ListPlans(ctx context.Context) ([]store.Plan, error)
	ListGroups(ctx context.Context) ([]store.Group, error)
}

// Auditor applies changes with their audit record in one transaction
// (*audit.Auditor does), so every catalog write is audited or not made.
type Auditor interface {
	Apply(ctx context.Context, rec audit.Record, changes ...store.Change) error
}

var (
	_ Store   = (*store.DB)(nil)
	_ Auditor = (*audit.Auditor)(nil)
)

// ActionApply is the audit action of an applied document.
const ActionApply = "catalog.apply"

// ErrInvalid wraps every reason a document is refused: its own problems,
// a clash with the configuration file, an invalid catalog, a lifecycle
// move that is not allowed.
var ErrInvalid = errors.New("catalog document refused")

// Service plans and applies documents and exports the stored catalog.
type Service struct {
	st   Store
	au   Auditor
	file catalog.Snapshot
	// approver, when set, must approve every lifecycle transition.
	approver catalog.Approver
	now      func() time.Time
	// notifier, when set, is told of every committed apply.
	notifier Notifier
}

// Notifier is told the catalog revision after an apply committed, so
// gateways can sync before their next poll (a Redis notice). It is best
// effort: it reports its own failures, and gateways' polls catch up on a
// lost notice.
type Notifier interface {
	CatalogChanged(ctx context.Context, revision int64)
}

// Notify makes s tell n of every committed apply and returns s.
func (s *Service) Notify(n Notifier) *Service {
	s.notifier = n
	return s
}

// New returns the service over st. file is the configuration file's
// catalog (its APIs and plans own their names and base paths; its
// issuers are the ones stored APIs may name). approver may be nil (no
// approval step); now is the clock (nil means time.Now).
func New(st Store, au Auditor, file catalog.Snapshot, approver catalog.Approver, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, au: au, file: file, approver: approver, now: now}
}

// stored is the catalog as the store holds it.
type stored struct {
	// rev is the revision read before the catalog.
	rev      int64
	doc      catalog.Document
	versions map[string]store.APIVersion
	plans    map[string]store.Plan
	// groups are keyed by kind and name ("api commerce").
	groups map[string]store.Group
}

func (s *Service) load(ctx context.Context) (stored, error) {
	// The revision first: a write after it only makes Apply refuse.
	rev, err := s.st.CatalogRevision(ctx)
	if err != nil {
		return stored{}, err
	}
	vs, err := s.st.ListAPIVersions(ctx)
	if err != nil {
		return stored{}, err
	}
	ps, err := s.st.ListPlans(ctx)
	if err != nil {
		return stored{}, err
	}
	gs, err := s.st.ListGroups(ctx)
	if err != nil {
		return stored{}, err
	}
	out := stored{rev: rev, versions: map[string]store.APIVersion{}, plans: map[string]store.Plan{}, groups: map[string]store.Group{}}
	for _, v := range vs {
		e, err := Entry(v)
		if err != nil {
			return stored{}, err
		}
		out.doc.APIs = append(out.doc.APIs, e)
		out.versions[e.Key()] = v
	}
	for _, p := range ps {
		e := catalog.PlanEntry{Name: p.Name, Description: p.Description}
		if err := json.Unmarshal(p.Limits, &e.Limits); err != nil {
			return stored{}, fmt.Errorf("stored plan %q: %w", p.Name, err)
		}
		out.doc.Plans = append(out.doc.Plans, e)
		out.plans[p.Name] = p
	}
	for _, g := range gs {
		switch g.Kind {
		case store.GroupAPI:
			out.doc.APIGroups = append(out.doc.APIGroups, catalog.APIGroupEntry{Name: g.Name, Description: g.Description, APIs: g.Members})
		case store.GroupGateway:
			out.doc.GatewayGroups = append(out.doc.GatewayGroups, catalog.GatewayGroupEntry{Name: g.Name, Description: g.Description})
		}
		out.groups[g.Kind+" "+g.Name] = g
	}
	out.doc.Sort()
	return out, nil
}

// Entry decodes a stored version into its document entry.
func Entry(v store.APIVersion) (catalog.VersionEntry, error) {
	e := catalog.VersionEntry{
		State: catalog.State(v.State), Deprecated: v.DeprecatedAt, Sunset: v.Sunset,
		Description: v.Description, Owners: v.Owners, Tags: v.Tags, Gateways: v.Gateways,
	}
	if err := json.Unmarshal(v.Entry, &e.API); err != nil {
		return catalog.VersionEntry{}, fmt.Errorf("stored API %s %s: %w", v.Name, v.Version, err)
	}
	return e, nil
}

// Export returns the stored catalog as a document, sorted.
func (s *Service) Export(ctx context.Context) (catalog.Document, error) {
	st, err := s.load(ctx)
	if err != nil {
		return catalog.Document{}, err
	}
	return st.doc, nil
}

// Plan is what applying a document will do: Changes to show, and the
// store writes that make them. An empty plan changes nothing.
type Plan struct {
	Changes []catalog.Change

	writes        []store.Change
	before, after map[string]any
	revision      int64
}

// Revision is the catalog revision the plan was computed from; Apply
// refuses the plan once the catalog has moved past it.
func (p *Plan) Revision() int64 { return p.revision }

// Empty reports whether applying the plan would change nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Plan checks desired and works out what applying it changes. It writes
// nothing; a refused document gives an error wrapping ErrInvalid with
// every reason found.
func (s *Service) Plan(ctx context.Context, desired catalog.Document) (*Plan, error) {
	cur, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	return s.plan(ctx, cur, desired)
}

// plan is Plan against cur, the catalog as loaded.
func (s *Service) plan(ctx context.Context, cur stored, desired catalog.Document) (*Plan, error) {
	desired.APIs = append([]catalog.VersionEntry(nil), desired.APIs...)
	desired.Sort()
	problems := desired.Problems()
	for i := range desired.APIs {
		e := &desired.APIs[i]
		if why := catalog.Clash(s.file.APIs, &e.API); why != "" {
			problems = append(problems, fmt.Sprintf("%s %s: %s", e.Name, e.Version, why))
		}
		// A deprecation date once set stays unless the document sets
		// another, so a document without one is not a change.
		if old, ok := cur.versions[e.Key()]; ok && e.Deprecated.IsZero() && e.State == catalog.StateDeprecated {
			e.Deprecated = old.DeprecatedAt
		}
	}
	for _, p := range desired.Plans {
		if why := catalog.PlanClash(s.file.RateLimit.Plans, p.Name); why != "" {
			problems = append(problems, why)
		}
	}
	problems = append(problems, s.groupMembers(desired)...)
	if len(problems) == 0 {
		problems = append(problems, s.validate(desired)...)
	}
	changes, err := catalog.Diff(cur.doc, desired)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Changes: changes, before: map[string]any{}, after: map[string]any{}, revision: cur.rev}
	// The writes apply only to the catalog they were computed from.
	plan.writes = append(plan.writes, store.ExpectCatalogRevisionChange(cur.rev))
	now := s.now().UTC()
	byKey := map[string]*catalog.VersionEntry{}
	for i := range desired.APIs {
		byKey[desired.APIs[i].Key()] = &desired.APIs[i]
	}
	plansByName := map[string]catalog.PlanEntry{}
	for _, p := range desired.Plans {
		plansByName[p.Name] = p
	}
	curPlans := map[string]catalog.PlanEntry{}
	for _, p := range cur.doc.Plans {
		curPlans[p.Name] = p
	}
	curAPIs := map[string]catalog.VersionEntry{}
	for _, e := range cur.doc.APIs {
		curAPIs[e.Key()] = e
	}
	for _, c := range changes {
		key := c.Object + " " + c.Name
		switch c.Object {
		case "api":
			old, had := cur.versions[c.Name]
			if had {
				plan.before[key] = curAPIs[c.Name]
			}
			if c.Kind == catalog.Deleted {
				if st := catalog.State(old.State); st.Served() {
					problems = append(problems, fmt.Sprintf("%s: a %s version is served; deprecate and retire it before deleting it", c.Name, st))
				}
				plan.writes = append(plan.writes, store.DeleteAPIVersionChange(old.Name, old.Version))
				continue
			}
			e := byKey[c.Name]
			plan.after[key] = *e
			if had {
				from := catalog.State(old.State)
				if err := catalog.CheckTransition(from, e.State); err != nil {
					problems = append(problems, fmt.Sprintf("%s: %v", c.Name, err))
					continue
				}
				if from != e.State && s.approver != nil {
					t := catalog.Transition{API: e.Name, Version: e.Version, From: from, To: e.State}
					if err := s.approver.Approve(ctx, t); err != nil {
						problems = append(problems, fmt.Sprintf("%s: %s -> %s not approved: %v", c.Name, from, e.State, err))
						continue
					}
				}
			}
			v, err := row(*e, old, had, now)
			if err != nil {
				return nil, err
			}
			if had {
				plan.writes = append(plan.writes, store.UpdateAPIVersionChange(v))
			} else {
				plan.writes = append(plan.writes, store.CreateAPIVersionChange(v))
			}
		case "api_group", "gateway_group":
			w, err := groupWrite(c, cur, desired, plan, now)
			if err != nil {
				return nil, err
			}
			plan.writes = append(plan.writes, w)
		case "plan":
			if p, ok := curPlans[c.Name]; ok {
				plan.before[key] = p
			}
			if c.Kind == catalog.Deleted {
				plan.writes = append(plan.writes, store.DeletePlanChange(c.Name))
				continue
			}
			p := plansByName[c.Name]
			plan.after[key] = p
			limits, err := json.Marshal(p.Limits)
			if err != nil {
				return nil, err
			}
			sp := store.Plan{Name: p.Name, Description: p.Description, Limits: limits, CreatedAt: now, UpdatedAt: now}
			if old, ok := cur.plans[c.Name]; ok {
				sp.CreatedAt = old.CreatedAt
				plan.writes = append(plan.writes, store.UpdatePlanChange(sp))
			} else {
				plan.writes = append(plan.writes, store.CreatePlanChange(sp))
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w:\n  %s", ErrInvalid, strings.Join(problems, "\n  "))
	}
	return plan, nil
}

// validate checks the document's entries as a catalog (with the file's
// issuers and plans), and the catalog gateways would serve with it.
func (s *Service) validate(d catalog.Document) []string {
	var out []string
	alone := catalog.Snapshot{Issuers: s.file.Issuers, RateLimit: s.file.RateLimit}
	alone = alone.Clone()
	for _, e := range d.APIs {
		alone.APIs = append(alone.APIs, e.API)
	}
	for _, p := range d.Plans {
		if alone.RateLimit.Plans == nil {
			alone.RateLimit.Plans = map[string][]catalog.Limit{}
		}
		alone.RateLimit.Plans[p.Name] = p.Limits
	}
	alone.ApplyDefaults()
	for _, fe := range alone.Problems(catalog.Fields{RateLimit: "ratelimit", Within: "the catalog"}) {
		out = append(out, fe.Error())
	}
	if len(out) > 0 {
		return out
	}
	// Every version, drafts included, must be servable beside the file's
	// APIs, so publishing one later cannot break a gateway's reload.
	all := d
	all.APIs = append([]catalog.VersionEntry(nil), d.APIs...)
	for i := range all.APIs {
		all.APIs[i].State = catalog.StatePublished
	}
	served, _ := catalog.Merge(s.file, all, "")
	served.ApplyDefaults()
	if err := served.Validate(); err != nil {
		out = append(out, "with the configuration file's APIs: "+err.Error())
	}
	return out
}

// row is e as a stored version, keeping what old (when had) records.
func row(e catalog.VersionEntry, old store.APIVersion, had bool, now time.Time) (store.APIVersion, error) {
	entry, err := json.Marshal(e.API)
	if err != nil {
		return store.APIVersion{}, err
	}
	v := store.APIVersion{
		Name: e.Name, Version: e.Version, BasePath: e.BasePath, Upstream: e.Upstream, Entry: entry,
		Description: e.Description, Owners: e.Owners, Tags: e.Tags, Gateways: e.Gateways, State: string(e.State),
		DeprecatedAt: e.Deprecated, Sunset: e.Sunset, CreatedAt: now, UpdatedAt: now,
	}
	if had {
		v.CreatedAt = old.CreatedAt
	}
	if e.State == catalog.StateDeprecated && v.DeprecatedAt.IsZero() {
		v.DeprecatedAt = now
	}
	return v, nil
}

// ErrStale means the stored catalog changed between Plan and Apply;
// nothing was written. Plan again.
var ErrStale = errors.New("the stored catalog changed since the plan was made; plan again")

// Apply makes the plan's writes, with one audit record holding the
// objects before and after, in one transaction that bumps the catalog
// revision. An empty plan writes nothing; a plan the catalog moved past
// writes nothing and returns ErrStale.
func (s *Service) Apply(ctx context.Context, p *Plan) error {
	return s.apply(ctx, p, ActionApply, audit.Target{Type: "catalog", ID: summary(p.Changes)})
}

// apply is Apply recorded as action on target.
func (s *Service) apply(ctx context.Context, p *Plan, action string, target audit.Target) error {
	if p.Empty() {
		return nil
	}
	rec := audit.Record{Action: action, Target: target}
	var err error
	if rec.Before, err = audit.State(p.before); err != nil {
		return err
	}
	if rec.After, err = audit.State(p.after); err != nil {
		return err
	}
	err = s.au.Apply(ctx, rec, p.writes...)
	if errors.Is(err, store.ErrCatalogMoved) {
		return ErrStale
	}
	if err != nil {
		return err
	}
	s.notify(ctx)
	return nil
}

// notify tells the notifier the revision now committed. The revision is
// read back rather than computed: a later write only makes it larger,
// and a notice is a hint to check the revision, never a replacement.
func (s *Service) notify(ctx context.Context) {
	if s.notifier == nil {
		return
	}
	rev, err := s.st.CatalogRevision(ctx)
	if err != nil {
		// Committed all the same; gateways see it on their next poll.
		return
	}
	s.notifier.CatalogChanged(ctx, rev)
}

// summary is the record's target id: how many objects each kind of
// change touched.
func summary(cs []catalog.Change) string {
	n := map[catalog.ChangeKind]int{}
	for _, c := range cs {
		n[c.Kind]++
	}
	return fmt.Sprintf("%d created, %d changed, %d deleted", n[catalog.Created], n[catalog.Changed], n[catalog.Deleted])
}

// groupMembers checks that every API an API group names is an API of the
// document or of the configuration file.
func (s *Service) groupMembers(d catalog.Document) []string {
	known := map[string]bool{}
	for _, e := range d.APIs {
		known[e.Name] = true
	}
	for _, a := range s.file.APIs {
		known[a.Name] = true
	}
	var out []string
	for i, g := range d.APIGroups {
		for k, name := range g.APIs {
			if !known[name] {
				out = append(out, fmt.Sprintf("api_groups[%d].apis[%d]: no API %q in the catalog or the configuration file", i, k, name))
			}
		}
	}
	return out
}

// groupWrite is the store write of a change to an API or gateway group,
// recording the group before and after in plan.
func groupWrite(c catalog.Change, cur stored, desired catalog.Document, plan *Plan, now time.Time) (store.Change, error) {
	kind := store.GroupAPI
	if c.Object == "gateway_group" {
		kind = store.GroupGateway
	}
	key := c.Object + " " + c.Name
	old, had := cur.groups[kind+" "+c.Name]
	if had {
		plan.before[key] = old
	}
	if c.Kind == catalog.Deleted {
		return store.DeleteGroupChange(kind, c.Name), nil
	}
	g := store.Group{Kind: kind, Name: c.Name, CreatedAt: now, UpdatedAt: now}
	switch kind {
	case store.GroupAPI:
		i := slices.IndexFunc(desired.APIGroups, func(e catalog.APIGroupEntry) bool { return e.Name == c.Name })
		if i < 0 {
			return store.Change{}, fmt.Errorf("publish: API group %q changed but is not in the document", c.Name)
		}
		g.Description, g.Members = desired.APIGroups[i].Description, desired.APIGroups[i].APIs
	default:
		i := slices.IndexFunc(desired.GatewayGroups, func(e catalog.GatewayGroupEntry) bool { return e.Name == c.Name })
		if i < 0 {
			return store.Change{}, fmt.Errorf("publish: gateway group %q changed but is not in the document", c.Name)
		}
		g.Description = desired.GatewayGroups[i].Description
	}
	plan.after[key] = g
	if had {
		g.CreatedAt = old.CreatedAt
		return store.UpdateGroupChange(g), nil
	}
	return store.CreateGroupChange(g), nil
}
