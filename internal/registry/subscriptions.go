package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/store"
)

// Actions and target types of subscriptions in the audit trail.
const (
	ActionSubscriptionCreate = "subscription.create"
	ActionSubscriptionState  = "subscription.state"
	TargetSubscription       = "subscription"
)

// The states of a subscription (the store's values).
const (
	StateActive    = store.SubscriptionActive
	StateSuspended = store.SubscriptionSuspended
	StateCancelled = store.SubscriptionCancelled
)

// publishedState is the catalog lifecycle state that takes new
// subscriptions (internal/catalog's StatePublished; the registry sits
// below catalog and does not import it).
const publishedState = "published"

// maxRefLen bounds the names a subscription refers to (an application
// id, an API name and version, a plan).
const maxRefLen = 200

// Subscription is how a subscription is shown, and recorded in the
// audit trail.
type Subscription struct {
	ID            string    `json:"id"`
	ApplicationID string    `json:"application_id"`
	API           string    `json:"api"`
	Version       string    `json:"version"`
	Plan          string    `json:"plan"`
	State         string    `json:"state"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// NewSubscription describes the stored s.
func NewSubscription(s store.Subscription) Subscription {
	return Subscription{
		ID: s.ID, ApplicationID: s.ApplicationID, API: s.API, Version: s.Version, Plan: s.Plan,
		State: s.State, CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC(),
	}
}

func newSubscriptions(rows []store.Subscription) []Subscription {
	out := make([]Subscription, len(rows))
	for i, s := range rows {
		out[i] = NewSubscription(s)
	}
	return out
}

// SubscriptionSpec is a new subscription of an application to an API
// version under a plan.
type SubscriptionSpec struct {
	ApplicationID string
	API, Version  string
	Plan          string
}

// SubscriptionFilter selects subscriptions; zero fields select every one.
type SubscriptionFilter struct {
	ApplicationID string
	// API is an API name: every version of it.
	API string
}

// Catalog is what subscriptions ask of the API catalog.
type Catalog interface {
	// VersionState returns the lifecycle state of the stored version
	// (draft, published, deprecated, retired); an absent version is an
	// error wrapping store.ErrNotFound or ErrNotFound.
	VersionState(ctx context.Context, name, version string) (string, error)
	// PlanExists reports whether a plan of that name exists, in the
	// stored catalog or the configuration file.
	PlanExists(ctx context.Context, name string) (bool, error)
}

// SubscriptionStore is the part of the store the subscription service
// reads; its writes go through the Auditor.
type SubscriptionStore interface {
	GetApplication(ctx context.Context, id string) (store.Application, error)
	GetSubscription(ctx context.Context, id string) (store.Subscription, error)
	ListSubscriptions(ctx context.Context, f store.SubscriptionFilter) ([]store.Subscription, error)
}

var _ SubscriptionStore = (*store.DB)(nil)

// Subscriptions manages subscriptions. Safe for concurrent use.
type Subscriptions struct {
	st    SubscriptionStore
	cat   Catalog
	audit Auditor
	now   func() time.Time
}

// NewSubscriptions returns the subscription service over st; cat answers
// whether an API version takes subscriptions and a plan exists; every
// mutation is written through au with its audit record, in one
// transaction. now is the clock (nil means time.Now).
func NewSubscriptions(st SubscriptionStore, cat Catalog, au Auditor, now func() time.Time) *Subscriptions {
	if now == nil {
		now = time.Now
	}
	return &Subscriptions{st: st, cat: cat, audit: au, now: now}
}

// Create subscribes an application to a published API version under an
// existing plan. An unknown application wraps ErrNotFound; a version
// that is absent or not published, or an unknown plan, is a
// *RefusedError; a live (not cancelled) subscription of the application
// to the version wraps ErrExists.
func (s *Subscriptions) Create(ctx context.Context, spec SubscriptionSpec) (Subscription, error) {
	for _, f := range []struct{ name, v string }{
		{"application_id", spec.ApplicationID}, {"api", spec.API}, {"version", spec.Version}, {"plan", spec.Plan},
	} {
		if err := checkName(f.name, f.v, maxRefLen, true); err != nil {
			return Subscription{}, err
		}
	}
	if _, err := s.st.GetApplication(ctx, spec.ApplicationID); errors.Is(err, store.ErrNotFound) {
		return Subscription{}, notFound("application", spec.ApplicationID)
	} else if err != nil {
		return Subscription{}, fmt.Errorf("create subscription: %w", err)
	}
	if err := s.subscribable(ctx, spec); err != nil {
		return Subscription{}, err
	}
	now := s.now().UTC()
	sub := Subscription{
		ID: newID("sub_"), ApplicationID: spec.ApplicationID, API: spec.API, Version: spec.Version,
		Plan: spec.Plan, State: store.SubscriptionActive, CreatedAt: now, UpdatedAt: now,
	}
	rec, err := record(ActionSubscriptionCreate, TargetSubscription, sub.ID, subState, nil, &sub)
	if err != nil {
		return Subscription{}, err
	}
	err = s.audit.Apply(ctx, rec, store.CreateSubscriptionChange(sub.row()))
	switch {
	case errors.Is(err, store.ErrConflict):
		return Subscription{}, &existsError{fmt.Sprintf("application %s already has a live subscription to %s %s",
			quote(spec.ApplicationID), spec.API, spec.Version)}
	case errors.Is(err, store.ErrNotFound):
		return Subscription{}, notFound("application", spec.ApplicationID)
	case err != nil:
		return Subscription{}, fmt.Errorf("create subscription: %w", err)
	}
	return sub, nil
}

// subscribable refuses a version that is absent or not published, and an
// unknown plan. New subscriptions to a deprecated version are refused
// too: it is on its way out, and existing subscriptions keep working
// until it is retired.
func (s *Subscriptions) subscribable(ctx context.Context, spec SubscriptionSpec) error {
	state, err := s.cat.VersionState(ctx, spec.API, spec.Version)
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrNotFound):
		return &RefusedError{fmt.Sprintf("no API version %s %s in the catalog", spec.API, spec.Version)}
	case err != nil:
		return fmt.Errorf("create subscription: %w", err)
	case state != publishedState:
		return &RefusedError{fmt.Sprintf("API version %s %s is %s: only published versions take new subscriptions",
			spec.API, spec.Version, state)}
	}
	ok, err := s.cat.PlanExists(ctx, spec.Plan)
	if err != nil {
		return fmt.Errorf("create subscription: %w", err)
	}
	if !ok {
		return &RefusedError{fmt.Sprintf("no plan %s", quote(spec.Plan))}
	}
	return nil
}

// Get returns the subscription id; an unknown id wraps ErrNotFound.
func (s *Subscriptions) Get(ctx context.Context, id string) (Subscription, error) {
	sub, err := s.st.GetSubscription(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Subscription{}, notFound("subscription", id)
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("get subscription: %w", err)
	}
	return NewSubscription(sub), nil
}

// List returns the subscriptions f selects, ordered by id.
func (s *Subscriptions) List(ctx context.Context, f SubscriptionFilter) ([]Subscription, error) {
	rows, err := s.st.ListSubscriptions(ctx, store.SubscriptionFilter{ApplicationID: f.ApplicationID, API: f.API})
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return newSubscriptions(rows), nil
}

// subscriptionMoves are the allowed state changes: active and suspended
// to each other, either to cancelled, which is final.
var subscriptionMoves = map[string][]string{
	store.SubscriptionActive:    {store.SubscriptionSuspended, store.SubscriptionCancelled},
	store.SubscriptionSuspended: {store.SubscriptionActive, store.SubscriptionCancelled},
}

// CheckSubscriptionMove reports whether a subscription may move from one
// state to another: nil, a *FieldError for an unknown state, or a
// *RefusedError saying why not.
func CheckSubscriptionMove(from, to string) error {
	if to != store.SubscriptionActive && to != store.SubscriptionSuspended && to != store.SubscriptionCancelled {
		return &FieldError{"state", "must be active, suspended or cancelled"}
	}
	if !slices.Contains(subscriptionMoves[from], to) {
		if from == store.SubscriptionCancelled {
			return &RefusedError{"the subscription is cancelled, which is final: subscribe again instead"}
		}
		return &RefusedError{fmt.Sprintf("a subscription cannot move from %s to %s", from, to)}
	}
	return nil
}

// SetState moves the subscription id to state. check is as for
// Applications.Update: it sees the subscription as read, and the write
// succeeds only if it is still that one (ErrChanged otherwise). Setting
// the state it is in already writes and records nothing.
func (s *Subscriptions) SetState(ctx context.Context, id, state string, check func(Subscription) error) (Subscription, error) {
	before, err := s.Get(ctx, id)
	if err != nil {
		return Subscription{}, err
	}
	if check != nil {
		if err := check(before); err != nil {
			return Subscription{}, err
		}
	}
	if state == before.State {
		return before, nil
	}
	if err := CheckSubscriptionMove(before.State, state); err != nil {
		return Subscription{}, err
	}
	after := before
	after.State, after.UpdatedAt = state, later(s.now(), before.UpdatedAt)
	rec, err := record(ActionSubscriptionState, TargetSubscription, id, subState, &before, &after)
	if err != nil {
		return Subscription{}, err
	}
	err = s.audit.Apply(ctx, rec, store.SetSubscriptionStateChange(id, state, after.UpdatedAt, before.UpdatedAt))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Subscription{}, notFound("subscription", id)
	case errors.Is(err, store.ErrChanged):
		return Subscription{}, fmt.Errorf("subscription %s: %w", quote(id), ErrChanged)
	case err != nil:
		return Subscription{}, fmt.Errorf("set subscription state: %w", err)
	}
	return after, nil
}

func (s Subscription) row() store.Subscription {
	return store.Subscription{
		ID: s.ID, ApplicationID: s.ApplicationID, API: s.API, Version: s.Version, Plan: s.Plan,
		State: s.State, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

func subState(s *Subscription) (json.RawMessage, error) {
	if s == nil {
		return nil, nil
	}
	return audit.State(s)
}

// CatalogStore is the part of the store StoredCatalog reads.
type CatalogStore interface {
	GetAPIVersion(ctx context.Context, name, version string) (store.APIVersion, error)
	ListPlans(ctx context.Context) ([]store.Plan, error)
}

var _ CatalogStore = (*store.DB)(nil)

// StoredCatalog is the Catalog of the stored catalog plus the plans of
// the configuration file.
type StoredCatalog struct {
	Store CatalogStore
	// FilePlans returns the configuration file's plan names as they are
	// now (they change on reload); nil for none.
	FilePlans func() []string
}

var _ Catalog = StoredCatalog{}

// VersionState returns the stored version's state; absent, an error
// wrapping store.ErrNotFound.
func (c StoredCatalog) VersionState(ctx context.Context, name, version string) (string, error) {
	v, err := c.Store.GetAPIVersion(ctx, name, version)
	if err != nil {
		return "", err
	}
	return v.State, nil
}

// PlanExists looks in the configuration file's plans, then the stored
// ones.
func (c StoredCatalog) PlanExists(ctx context.Context, name string) (bool, error) {
	if c.FilePlans != nil && slices.Contains(c.FilePlans(), name) {
		return true, nil
	}
	plans, err := c.Store.ListPlans(ctx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(plans, func(p store.Plan) bool { return p.Name == name }), nil
}
