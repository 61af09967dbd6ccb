package registry

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/printable"
	"github.com/portcullis/portcullis/internal/store"
)

// Actions and target types of applications in the audit trail.
const (
	ActionApplicationCreate = "application.create"
	ActionApplicationUpdate = "application.update"
	ActionApplicationDelete = "application.delete"
	TargetApplication       = "application"
)

// Limits on an application's text.
const (
	maxAppNameLen        = 100
	maxAppDescriptionLen = 1000
	maxOwnerLen          = 255
	maxTeamLen           = 100
)

// ErrChanged: the object was written by someone else between the read a
// mutation was planned on (and its check ran on) and the write; nothing
// was written. Read it again and retry.
var ErrChanged = errors.New("changed since it was read")

// FieldError is input a rule of applications or subscriptions refuses;
// Field names the input ("name", "client_id"), Reason says why. Neither
// quotes a secret, so both may be shown to the caller.
type FieldError struct {
	Field, Reason string
}

// Error reads "invalid name: ...".
func (e *FieldError) Error() string { return "invalid " + e.Field + ": " + e.Reason }

// RefusedError is a well-formed request the current state refuses: a
// subscription to a version that is not published, a move out of a
// final state. Reason is safe to show.
type RefusedError struct{ Reason string }

// Error returns the reason.
func (e *RefusedError) Error() string { return e.Reason }

// existsError is an ErrExists in its own words.
type existsError struct{ msg string }

func (e *existsError) Error() string { return e.msg }
func (e *existsError) Unwrap() error { return ErrExists }

// Application is how an application is shown, and recorded in the audit
// trail. It holds nothing secret: the client's secret stays the
// client's.
type Application struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	ClientID    string    `json:"client_id"`
	Owner       string    `json:"owner"`
	Team        string    `json:"team,omitempty"`
	Environment string    `json:"environment"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// NewApplication describes the stored a.
func NewApplication(a store.Application) Application {
	return Application{
		ID: a.ID, Name: a.Name, ClientID: a.ClientID, Owner: a.Owner, Team: a.Team,
		Environment: a.Environment, Description: a.Description,
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(),
	}
}

// row is the stored form of a.
func (a Application) row() store.Application {
	return store.Application{
		ID: a.ID, Name: a.Name, ClientID: a.ClientID, Owner: a.Owner, Team: a.Team,
		Environment: a.Environment, Description: a.Description, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

// ApplicationSpec is a new application. Owner is whoever the caller's
// layer decides (the admin API: the caller's subject, or any subject for
// a platform administrator); the service does not look at roles.
type ApplicationSpec struct {
	Name     string
	ClientID string
	Owner    string
	Team     string
	// Environment is sandbox or production; "" means sandbox.
	Environment string
	Description string
}

// ApplicationPatch changes the fields that are set; the client and the
// id never change.
type ApplicationPatch struct {
	Name, Owner, Team, Environment, Description *string
}

// ApplicationStore is the part of the store the application service
// reads; its writes go through the Auditor.
type ApplicationStore interface {
	GetApplication(ctx context.Context, id string) (store.Application, error)
	GetApplicationByClient(ctx context.Context, clientID string) (store.Application, error)
	ListApplications(ctx context.Context, owner string) ([]store.Application, error)
	ListSubscriptions(ctx context.Context, f store.SubscriptionFilter) ([]store.Subscription, error)
}

var _ ApplicationStore = (*store.DB)(nil)

// ClientLookup finds an OAuth client; an unknown id wraps ErrNotFound
// (*Clients does this).
type ClientLookup interface {
	Get(ctx context.Context, id string) (store.Client, error)
}

var _ ClientLookup = (*Clients)(nil)

// Applications registers and manages applications. Safe for concurrent
// use.
type Applications struct {
	st      ApplicationStore
	clients ClientLookup
	audit   Auditor
	now     func() time.Time
}

// NewApplications returns the application service over st; clients
// finds the OAuth client an application is made of, every mutation is
// written through au with its audit record, in one transaction. now is
// the clock (nil means time.Now).
func NewApplications(st ApplicationStore, clients ClientLookup, au Auditor, now func() time.Time) *Applications {
	if now == nil {
		now = time.Now
	}
	return &Applications{st: st, clients: clients, audit: au, now: now}
}

// Create checks spec and stores the application. The client must exist
// and have no application yet (ErrExists otherwise).
func (s *Applications) Create(ctx context.Context, spec ApplicationSpec) (Application, error) {
	if spec.Environment == "" {
		spec.Environment = store.EnvironmentSandbox
	}
	now := s.now().UTC()
	a := Application{
		ID: newID("app_"), Name: spec.Name, ClientID: spec.ClientID, Owner: spec.Owner, Team: spec.Team,
		Environment: spec.Environment, Description: spec.Description, CreatedAt: now, UpdatedAt: now,
	}
	if err := checkApplication(a); err != nil {
		return Application{}, err
	}
	if _, err := s.clients.Get(ctx, a.ClientID); errors.Is(err, ErrNotFound) {
		return Application{}, &FieldError{"client_id", "no client " + quote(a.ClientID)}
	} else if err != nil {
		return Application{}, fmt.Errorf("create application: %w", err)
	}
	err := s.apply(ctx, ActionApplicationCreate, nil, &a, store.CreateApplicationChange(a.row()))
	switch {
	case errors.Is(err, store.ErrConflict):
		return Application{}, &existsError{"client " + quote(a.ClientID) + " already has an application"}
	case errors.Is(err, store.ErrNotFound):
		// The client went away since it was looked up.
		return Application{}, &FieldError{"client_id", "no client " + quote(a.ClientID)}
	case err != nil:
		return Application{}, fmt.Errorf("create application: %w", err)
	}
	return a, nil
}

// Get returns the application id; an unknown id wraps ErrNotFound.
func (s *Applications) Get(ctx context.Context, id string) (Application, error) {
	a, err := s.st.GetApplication(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Application{}, notFound("application", id)
	}
	if err != nil {
		return Application{}, fmt.Errorf("get application: %w", err)
	}
	return NewApplication(a), nil
}

// GetByClient returns the application of the OAuth client clientID; none
// wraps ErrNotFound.
func (s *Applications) GetByClient(ctx context.Context, clientID string) (Application, error) {
	a, err := s.st.GetApplicationByClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return Application{}, notFound("application of client", clientID)
	}
	if err != nil {
		return Application{}, fmt.Errorf("get application: %w", err)
	}
	return NewApplication(a), nil
}

// List returns the applications of owner ("" for everyone's), ordered by
// id.
func (s *Applications) List(ctx context.Context, owner string) ([]Application, error) {
	rows, err := s.st.ListApplications(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	out := make([]Application, len(rows))
	for i, a := range rows {
		out[i] = NewApplication(a)
	}
	return out, nil
}

// Update applies p to the application id. check, if not nil, sees the
// application as read and may refuse the update with its own error (the
// caller's ownership and If-Match rules); the write then succeeds only
// if the application is still the one check saw (ErrChanged otherwise).
func (s *Applications) Update(ctx context.Context, id string, p ApplicationPatch, check func(Application) error) (Application, error) {
	before, err := s.Get(ctx, id)
	if err != nil {
		return Application{}, err
	}
	if check != nil {
		if err := check(before); err != nil {
			return Application{}, err
		}
	}
	after := before
	for _, f := range []struct {
		dst *string
		src *string
	}{{&after.Name, p.Name}, {&after.Owner, p.Owner}, {&after.Team, p.Team}, {&after.Environment, p.Environment}, {&after.Description, p.Description}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if err := checkApplication(after); err != nil {
		return Application{}, err
	}
	if after == before {
		return before, nil // nothing to change, nothing to record
	}
	after.UpdatedAt = s.later(before.UpdatedAt)
	err = s.apply(ctx, ActionApplicationUpdate, &before, &after, store.UpdateApplicationChange(after.row(), before.UpdatedAt))
	if err != nil {
		return Application{}, s.writeErr("update", id, err)
	}
	return after, nil
}

// Delete removes the application id with its subscriptions; check is as
// for Update. The record's before holds the application and the
// subscriptions that go with it.
func (s *Applications) Delete(ctx context.Context, id string, check func(Application) error) error {
	before, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(before); err != nil {
			return err
		}
	}
	subs, err := s.st.ListSubscriptions(ctx, store.SubscriptionFilter{ApplicationID: id})
	if err != nil {
		return fmt.Errorf("delete application: %w", err)
	}
	st, err := audit.State(deletedApplication{before, newSubscriptions(subs)})
	if err != nil {
		return err
	}
	rec := audit.Record{Action: ActionApplicationDelete, Target: audit.Target{Type: TargetApplication, ID: id}, Before: st}
	// A subscription created between the list and the delete would go
	// unrecorded; the conditional delete only covers the application.
	if err := s.audit.Apply(ctx, rec, store.DeleteApplicationChange(id, before.UpdatedAt)); err != nil {
		return s.writeErr("delete", id, err)
	}
	return nil
}

// deletedApplication is the before of application.delete.
type deletedApplication struct {
	Application
	Subscriptions []Subscription `json:"subscriptions"`
}

// apply writes change with the audit record of action on the
// application around it.
func (s *Applications) apply(ctx context.Context, action string, before, after *Application, change store.Change) error {
	id := after.ID
	rec, err := record(action, TargetApplication, id, appState, before, after)
	if err != nil {
		return err
	}
	return s.audit.Apply(ctx, rec, change)
}

// writeErr maps the store's answer to a conditional write of id.
func (s *Applications) writeErr(op, id string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("application", id)
	case errors.Is(err, store.ErrChanged):
		return fmt.Errorf("application %s: %w", quote(id), ErrChanged)
	}
	return fmt.Errorf("%s application: %w", op, err)
}

// later is the clock's time, or just after prev if the clock has not
// moved past it: updated_at is the version conditional writes compare,
// so it must change with every write.
func (s *Applications) later(prev time.Time) time.Time {
	return later(s.now(), prev)
}

func later(now, prev time.Time) time.Time {
	now = now.UTC()
	if !now.After(prev) {
		return prev.Add(time.Nanosecond).UTC()
	}
	return now
}

func appState(a *Application) (json.RawMessage, error) {
	if a == nil {
		return nil, nil
	}
	return audit.State(a)
}

// checkApplication applies the rules of an application's fields.
func checkApplication(a Application) error {
	if err := checkLabel("name", a.Name, maxAppNameLen, true); err != nil {
		return err
	}
	if err := checkDescription(a.Description); err != nil {
		return err
	}
	if err := checkName("owner", a.Owner, maxOwnerLen, true); err != nil {
		return err
	}
	if err := checkName("team", a.Team, maxTeamLen, false); err != nil {
		return err
	}
	if a.ClientID == "" {
		return &FieldError{"client_id", "required"}
	}
	if a.Environment != store.EnvironmentSandbox && a.Environment != store.EnvironmentProduction {
		return &FieldError{"environment", "must be sandbox or production"}
	}
	return nil
}

// checkLabel refuses text for people that is empty (when required),
// blank, too long or holds control characters, which could split a log
// line or a terminal's output.
func checkLabel(field, s string, maxLen int, required bool) error {
	switch {
	case s == "" && !required:
		return nil
	case strings.TrimSpace(s) == "":
		return &FieldError{field, "required"}
	case !utf8.ValidString(s) || printable.HasControl(s) || utf8.RuneCountInString(s) > maxLen:
		return &FieldError{field, fmt.Sprintf("must be 1 to %d printable characters", maxLen)}
	}
	return nil
}

func checkDescription(s string) error {
	if !utf8.ValidString(s) || printable.HasControl(s) || utf8.RuneCountInString(s) > maxAppDescriptionLen {
		return &FieldError{"description", fmt.Sprintf("must be at most %d printable characters", maxAppDescriptionLen)}
	}
	return nil
}

// checkName refuses a subject or team name that is empty (when
// required), too long, or holds a space or a control character: such
// names are compared and shown, and must not hide behind look-alikes.
func checkName(field, s string, maxLen int, required bool) error {
	switch {
	case s == "" && !required:
		return nil
	case s == "":
		return &FieldError{field, "required"}
	case !utf8.ValidString(s) || strings.ContainsFunc(s, printable.IsSpaceOrControl) || utf8.RuneCountInString(s) > maxLen:
		return &FieldError{field, fmt.Sprintf("must be 1 to %d characters without spaces or control characters", maxLen)}
	}
	return nil
}

// newID is prefix and 128 random bits as lowercase base32.
func newID(prefix string) string {
	return prefix + strings.ToLower(rand.Text())
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
