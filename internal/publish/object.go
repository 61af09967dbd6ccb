package publish

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/catalog"
)

// Audit actions of the single-object writes (the admin API's and the
// console's), beside ActionApply.
const (
	ActionVersionCreate = "catalog.version.create"
	ActionVersionUpdate = "catalog.version.update"
	ActionVersionState  = "catalog.version.state"
	ActionVersionDelete = "catalog.version.delete"
	ActionPlanCreate    = "catalog.plan.create"
	ActionPlanUpdate    = "catalog.plan.update"
	ActionPlanDelete    = "catalog.plan.delete"
)

// ErrNotFound: the catalog holds no such API version or plan.
var ErrNotFound = errors.New("not in the stored catalog")

// Match is a caller's precondition on the object as stored (nil when
// absent), checked against the same catalog revision the write is made
// on; an error it returns aborts the write and is returned as is. The
// admin API checks If-Match with it.
type (
	VersionMatch func(current *catalog.VersionEntry) error
	PlanMatch    func(current *catalog.PlanEntry) error
)

// Version returns the stored version name, version.
func (s *Service) Version(ctx context.Context, name, version string) (catalog.VersionEntry, error) {
	cur, err := s.load(ctx)
	if err != nil {
		return catalog.VersionEntry{}, err
	}
	i := versionIndex(cur.doc, name, version)
	if i < 0 {
		return catalog.VersionEntry{}, fmt.Errorf("API %s %s: %w", name, version, ErrNotFound)
	}
	return cur.doc.APIs[i], nil
}

// PlanEntry returns the stored plan name.
func (s *Service) PlanEntry(ctx context.Context, name string) (catalog.PlanEntry, error) {
	cur, err := s.load(ctx)
	if err != nil {
		return catalog.PlanEntry{}, err
	}
	i := planIndex(cur.doc, name)
	if i < 0 {
		return catalog.PlanEntry{}, fmt.Errorf("plan %s: %w", name, ErrNotFound)
	}
	return cur.doc.Plans[i], nil
}

// PutVersion creates e or replaces the stored version of its name and
// version, with every check apply makes (validation, clashes, the
// lifecycle move from the stored state). It reports whether e was
// created. A version without a version gets "v1", without a state
// "draft".
func (s *Service) PutVersion(ctx context.Context, e catalog.VersionEntry, match VersionMatch) (created bool, err error) {
	if e.Version == "" {
		e.Version = "v1"
	}
	if e.State == "" {
		e.State = catalog.StateDraft
	}
	e.Deprecated, e.Sunset = e.Deprecated.UTC(), e.Sunset.UTC()
	err = s.edit(ctx, func(d *catalog.Document) (string, audit.Target, error) {
		i := versionIndex(*d, e.Name, e.Version)
		var cur *catalog.VersionEntry
		if i >= 0 {
			cur = &d.APIs[i]
		}
		if match != nil {
			if err := match(cur); err != nil {
				return "", audit.Target{}, err
			}
		}
		target := versionTarget(e.Name, e.Version)
		if i < 0 {
			created = true
			d.APIs = append(d.APIs, e)
			return ActionVersionCreate, target, nil
		}
		d.APIs[i] = e
		return ActionVersionUpdate, target, nil
	})
	return created, err
}

// SetState moves a stored version to another lifecycle state (the
// lifecycle's rules and the approver apply) and returns it as stored.
func (s *Service) SetState(ctx context.Context, name, version string, to catalog.State, match VersionMatch) (catalog.VersionEntry, error) {
	if !to.Valid() {
		return catalog.VersionEntry{}, fmt.Errorf("%w:\n  state: %q is not one of draft, published, deprecated, retired", ErrInvalid, to)
	}
	err := s.edit(ctx, func(d *catalog.Document) (string, audit.Target, error) {
		i := versionIndex(*d, name, version)
		if i < 0 {
			return "", audit.Target{}, fmt.Errorf("API %s %s: %w", name, version, ErrNotFound)
		}
		if match != nil {
			if err := match(&d.APIs[i]); err != nil {
				return "", audit.Target{}, err
			}
		}
		d.APIs[i].State = to
		return ActionVersionState, versionTarget(name, version), nil
	})
	if err != nil {
		return catalog.VersionEntry{}, err
	}
	return s.Version(ctx, name, version)
}

// DeleteVersion deletes a stored version; a served one (published or
// deprecated) is refused.
func (s *Service) DeleteVersion(ctx context.Context, name, version string, match VersionMatch) error {
	return s.edit(ctx, func(d *catalog.Document) (string, audit.Target, error) {
		i := versionIndex(*d, name, version)
		if i < 0 {
			return "", audit.Target{}, fmt.Errorf("API %s %s: %w", name, version, ErrNotFound)
		}
		if match != nil {
			if err := match(&d.APIs[i]); err != nil {
				return "", audit.Target{}, err
			}
		}
		d.APIs = slices.Delete(d.APIs, i, i+1)
		return ActionVersionDelete, versionTarget(name, version), nil
	})
}

// PutPlan creates p or replaces the stored plan of its name, and
// reports whether it was created.
func (s *Service) PutPlan(ctx context.Context, p catalog.PlanEntry, match PlanMatch) (created bool, err error) {
	err = s.edit(ctx, func(d *catalog.Document) (string, audit.Target, error) {
		i := planIndex(*d, p.Name)
		var cur *catalog.PlanEntry
		if i >= 0 {
			cur = &d.Plans[i]
		}
		if match != nil {
			if err := match(cur); err != nil {
				return "", audit.Target{}, err
			}
		}
		target := audit.Target{Type: "plan", ID: p.Name}
		if i < 0 {
			created = true
			d.Plans = append(d.Plans, p)
			return ActionPlanCreate, target, nil
		}
		d.Plans[i] = p
		return ActionPlanUpdate, target, nil
	})
	return created, err
}

// DeletePlan deletes a stored plan.
func (s *Service) DeletePlan(ctx context.Context, name string, match PlanMatch) error {
	return s.edit(ctx, func(d *catalog.Document) (string, audit.Target, error) {
		i := planIndex(*d, name)
		if i < 0 {
			return "", audit.Target{}, fmt.Errorf("plan %s: %w", name, ErrNotFound)
		}
		if match != nil {
			if err := match(&d.Plans[i]); err != nil {
				return "", audit.Target{}, err
			}
		}
		d.Plans = slices.Delete(d.Plans, i, i+1)
		return ActionPlanDelete, audit.Target{Type: "plan", ID: name}, nil
	})
}

// edit loads the catalog, lets change edit a copy of its document (and
// name the audit action and target), then plans and applies the edited
// document against that same load. The plan's revision check makes the
// write fail with ErrStale rather than overwrite a write made since the
// load, so the precondition change checked still holds at the commit.
func (s *Service) edit(ctx context.Context, change func(d *catalog.Document) (string, audit.Target, error)) error {
	cur, err := s.load(ctx)
	if err != nil {
		return err
	}
	d := cur.doc
	d.APIs = slices.Clone(d.APIs)
	d.Plans = slices.Clone(d.Plans)
	d.APIGroups = slices.Clone(d.APIGroups)
	d.GatewayGroups = slices.Clone(d.GatewayGroups)
	action, target, err := change(&d)
	if err != nil {
		return err
	}
	p, err := s.plan(ctx, cur, d)
	if err != nil {
		return err
	}
	return s.apply(ctx, p, action, target)
}

func versionTarget(name, version string) audit.Target {
	return audit.Target{Type: "api_version", ID: name + " " + version}
}

func versionIndex(d catalog.Document, name, version string) int {
	return slices.IndexFunc(d.APIs, func(e catalog.VersionEntry) bool { return e.Name == name && e.Version == version })
}

func planIndex(d catalog.Document, name string) int {
	return slices.IndexFunc(d.Plans, func(p catalog.PlanEntry) bool { return p.Name == name })
}
