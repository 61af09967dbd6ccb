package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The environments an application may be in.
const (
	EnvironmentSandbox    = "sandbox"
	EnvironmentProduction = "production"
)

// The states a subscription may be in. Which moves between them are
// allowed is internal/registry's rule; the store only refuses a state
// outside this list (so do both schemas).
const (
	SubscriptionActive    = "active"
	SubscriptionSuspended = "suspended"
	SubscriptionCancelled = "cancelled"
)

var (
	applicationEnvironments = []string{EnvironmentSandbox, EnvironmentProduction}
	subscriptionStates      = []string{SubscriptionActive, SubscriptionSuspended, SubscriptionCancelled}
)

// Application is an OAuth client as a developer's product: who owns it
// and where it runs. Deleting the client deletes the application (and
// its subscriptions) with it.
type Application struct {
	// ID is server-generated ("app_" and random text).
	ID   string
	Name string
	// ClientID is the OAuth client; one application per client, and it
	// never changes (UpdateApplicationChange keeps it).
	ClientID string
	// Owner is the subject who owns the application.
	Owner string
	// Team is the owning team; "" for none.
	Team string
	// Environment is EnvironmentSandbox or EnvironmentProduction.
	Environment string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Subscription is an application's subscription to one API version under
// a plan.
type Subscription struct {
	// ID is server-generated ("sub_" and random text).
	ID            string
	ApplicationID string
	// API and Version name the API version (the catalog's key).
	API     string
	Version string
	Plan    string
	// State is one of the Subscription* constants. At most one
	// subscription of an application to a version is not cancelled.
	State     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SubscriptionFilter selects subscriptions for ListSubscriptions; zero
// fields select everything.
type SubscriptionFilter struct {
	ApplicationID string
	// API matches the API name, every version.
	API string
}

const (
	applicationCols  = `id, name, client_id, owner, team, environment, description, created_at, updated_at`
	subscriptionCols = `id, application_id, api_name, api_version, plan, state, created_at, updated_at`
)

// The conditional writes compare updated_at with the value the caller
// read (COALESCE: a row written without a time compares as 0), so a
// write planned on a read never overwrites a change made since.
// COALESCE(?, column) is how an optional filter reads in both dialects:
// NULL selects every row, and PostgreSQL infers the parameter's type
// from the column.
var (
	qCreateApplication = newQuery(`INSERT INTO applications (` + applicationCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qUpdateApplication = newQuery(`UPDATE applications SET name = ?, owner = ?, team = ?,
		environment = ?, description = ?, created_at = ?, updated_at = ?
		WHERE id = ? AND COALESCE(updated_at, 0) = ?`)
	qDeleteApplication = newQuery(`DELETE FROM applications WHERE id = ? AND COALESCE(updated_at, 0) = ?`)
	qApplicationExists = newQuery(`SELECT 1 FROM applications WHERE id = ?`)
	qGetApplication    = newQuery(`SELECT ` + applicationCols + ` FROM applications WHERE id = ?`)
	qGetAppByClient    = newQuery(`SELECT ` + applicationCols + ` FROM applications WHERE client_id = ?`)
	qListApplications  = newQuery(`SELECT ` + applicationCols + ` FROM applications
		WHERE owner = COALESCE(?, owner) ORDER BY id`)

	qCreateSubscription = newQuery(`INSERT INTO subscriptions (` + subscriptionCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	qSetSubscriptionState = newQuery(`UPDATE subscriptions SET state = ?, updated_at = ?
		WHERE id = ? AND COALESCE(updated_at, 0) = ?`)
	qSubscriptionExists = newQuery(`SELECT 1 FROM subscriptions WHERE id = ?`)
	qGetSubscription    = newQuery(`SELECT ` + subscriptionCols + ` FROM subscriptions WHERE id = ?`)
	qListSubscriptions  = newQuery(`SELECT ` + subscriptionCols + ` FROM subscriptions
		WHERE application_id = COALESCE(?, application_id) AND api_name = COALESCE(?, api_name)
		ORDER BY id`)
)

// checkApplication validates a before a write.
func checkApplication(a Application) error {
	for _, f := range []struct{ name, v string }{
		{"application id", a.ID}, {"application name", a.Name},
		{"application client id", a.ClientID}, {"application owner", a.Owner},
	} {
		if err := checkRequired(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkText("application team", a.Team); err != nil {
		return err
	}
	if err := checkText("application description", a.Description); err != nil {
		return err
	}
	if !slices.Contains(applicationEnvironments, a.Environment) {
		return invalid("application environment is not one of sandbox, production")
	}
	if err := checkTime("application created at", a.CreatedAt); err != nil {
		return err
	}
	return checkTime("application updated at", a.UpdatedAt)
}

// checkSubscription validates s before a write.
func checkSubscription(s Subscription) error {
	for _, f := range []struct{ name, v string }{
		{"subscription id", s.ID}, {"subscription application id", s.ApplicationID},
		{"subscription api", s.API}, {"subscription api version", s.Version}, {"subscription plan", s.Plan},
	} {
		if err := checkRequired(f.name, f.v); err != nil {
			return err
		}
	}
	if !slices.Contains(subscriptionStates, s.State) {
		return invalid("subscription state is not one of active, suspended, cancelled")
	}
	if err := checkTime("subscription created at", s.CreatedAt); err != nil {
		return err
	}
	return checkTime("subscription updated at", s.UpdatedAt)
}

func scanApplication(r rowScanner) (Application, error) {
	var a Application
	err := r.Scan(&a.ID, &a.Name, &a.ClientID, &a.Owner, &a.Team, &a.Environment, &a.Description,
		timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt})
	return a, err
}

func scanSubscription(r rowScanner) (Subscription, error) {
	var s Subscription
	err := r.Scan(&s.ID, &s.ApplicationID, &s.API, &s.Version, &s.Plan, &s.State,
		timeCol{&s.CreatedAt}, timeCol{&s.UpdatedAt})
	return s, err
}

// versionArg encodes the updated_at a conditional write expects, as the
// statements' COALESCE reads the column.
func versionArg(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// optional is a filter argument: NULL (every row) for "".
func optional(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// isForeignKeyViolation reports whether err is a foreign-key failure (a
// missing client or application), by the drivers' typed codes.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// SQLSTATE 23503 foreign_key_violation (PostgreSQL appendix A).
		return pe.Code == "23503"
	}
	return false
}

// mapInsertErr maps the failures of an insert with a parent: a taken key
// is ErrConflict, a missing parent ErrNotFound.
func mapInsertErr(err error) error {
	if isForeignKeyViolation(err) {
		return ErrNotFound
	}
	return mapWriteErr(err, ErrConflict)
}

// appChange is one write of an application or a subscription, a Change
// through its ext field.
type appChange struct {
	op     string // the operation's name, for errors
	app    *Application
	sub    *Subscription
	create bool
	// id keys a delete or a state change; state and at are the new
	// state and updated_at of the latter.
	id    string
	state string
	at    time.Time
	// prev is the updated_at the write expects to find.
	prev time.Time
}

// CreateApplicationChange inserts a: ErrConflict if its id or client has
// an application, ErrNotFound if the client does not exist.
func CreateApplicationChange(a Application) Change {
	return Change{ext: &appChange{op: "create application", app: &a, create: true}}
}

// UpdateApplicationChange replaces the name, owner, team, environment,
// description and times of the application a.ID (the client stays), if
// its updated_at is still prev: ErrNotFound if absent, ErrChanged if it
// was written since.
func UpdateApplicationChange(a Application, prev time.Time) Change {
	return Change{ext: &appChange{op: "update application", app: &a, id: a.ID, prev: prev}}
}

// DeleteApplicationChange removes the application id with its
// subscriptions, if its updated_at is still prev: ErrNotFound if absent,
// ErrChanged if it was written since.
func DeleteApplicationChange(id string, prev time.Time) Change {
	return Change{ext: &appChange{op: "delete application", id: id, prev: prev}}
}

// CreateSubscriptionChange inserts s: ErrConflict if its id is taken or
// its application has a subscription to the same version that is not
// cancelled, ErrNotFound if the application does not exist.
func CreateSubscriptionChange(s Subscription) Change {
	return Change{ext: &appChange{op: "create subscription", sub: &s, create: true}}
}

// SetSubscriptionStateChange sets the state and updated_at (at) of the
// subscription id, if its updated_at is still prev: ErrNotFound if
// absent, ErrChanged if it was written since, ErrConflict if it would
// make a second live subscription to the version.
func SetSubscriptionStateChange(id, state string, at, prev time.Time) Change {
	return Change{ext: &appChange{op: "set subscription state", id: id, state: state, at: at, prev: prev}}
}

func (c *appChange) name() string { return c.op }

func (c *appChange) check() error {
	switch {
	case c.app != nil:
		return checkApplication(*c.app)
	case c.sub != nil:
		return checkSubscription(*c.sub)
	case !validKey(c.id):
		return ErrNotFound
	case c.state != "" && !slices.Contains(subscriptionStates, c.state):
		return invalid("subscription state is not one of active, suspended, cancelled")
	case c.state != "":
		return checkTime("subscription updated at", c.at)
	}
	return nil
}

func (c *appChange) apply(ctx context.Context, db *DB, tx *sql.Tx) error {
	var (
		n      int64
		err    error
		exists = qApplicationExists
	)
	switch {
	case c.app != nil && c.create:
		a := c.app
		_, err = db.txExec(ctx, tx, qCreateApplication, a.ID, a.Name, a.ClientID, a.Owner, a.Team,
			a.Environment, a.Description, timeArg(a.CreatedAt), timeArg(a.UpdatedAt))
		return mapInsertErr(err)
	case c.app != nil:
		a := c.app
		n, err = db.txExec(ctx, tx, qUpdateApplication, a.Name, a.Owner, a.Team, a.Environment,
			a.Description, timeArg(a.CreatedAt), timeArg(a.UpdatedAt), a.ID, versionArg(c.prev))
	case c.sub != nil:
		s := c.sub
		_, err = db.txExec(ctx, tx, qCreateSubscription, s.ID, s.ApplicationID, s.API, s.Version,
			s.Plan, s.State, timeArg(s.CreatedAt), timeArg(s.UpdatedAt))
		return mapInsertErr(err)
	case c.state != "":
		n, err = db.txExec(ctx, tx, qSetSubscriptionState, c.state, timeArg(c.at), c.id, versionArg(c.prev))
		// Resuming a cancelled subscription beside a live one.
		err = mapWriteErr(err, ErrConflict)
		exists = qSubscriptionExists
	default:
		// The subscriptions go with it (ON DELETE CASCADE).
		n, err = db.txExec(ctx, tx, qDeleteApplication, c.id, versionArg(c.prev))
	}
	if err != nil || n > 0 {
		return err
	}
	// Nothing matched: absent, or written since it was read.
	var one int
	switch err := tx.QueryRowContext(ctx, db.text(exists), c.id).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case err != nil:
		return err
	}
	return ErrChanged
}

// GetApplication returns the application id, or ErrNotFound.
func (db *DB) GetApplication(ctx context.Context, id string) (Application, error) {
	return db.getApplication(ctx, "get application", qGetApplication, id)
}

// GetApplicationByClient returns the application of the OAuth client
// clientID, or ErrNotFound.
func (db *DB) GetApplicationByClient(ctx context.Context, clientID string) (Application, error) {
	return db.getApplication(ctx, "get application by client", qGetAppByClient, clientID)
}

func (db *DB) getApplication(ctx context.Context, op string, q query, key string) (Application, error) {
	if !validKey(key) {
		return Application{}, opErr(op, ErrNotFound)
	}
	a, err := scanApplication(db.row(ctx, db.read, q, key))
	if err != nil {
		return Application{}, opErr(op, mapReadErr(err))
	}
	return a, nil
}

// ListApplications returns the applications of owner ("" for every
// owner), ordered by id.
func (db *DB) ListApplications(ctx context.Context, owner string) ([]Application, error) {
	if !validKey(owner) {
		return nil, nil
	}
	rows, err := db.rows(ctx, db.read, qListApplications, optional(owner))
	if err != nil {
		return nil, opErr("list applications", err)
	}
	as, err := scanAll(rows, scanApplication)
	if err != nil {
		return nil, opErr("list applications", err)
	}
	return as, nil
}

// GetSubscription returns the subscription id, or ErrNotFound.
func (db *DB) GetSubscription(ctx context.Context, id string) (Subscription, error) {
	if !validKey(id) {
		return Subscription{}, opErr("get subscription", ErrNotFound)
	}
	s, err := scanSubscription(db.row(ctx, db.read, qGetSubscription, id))
	if err != nil {
		return Subscription{}, opErr("get subscription", mapReadErr(err))
	}
	return s, nil
}

// ListSubscriptions returns the subscriptions f selects, ordered by id.
func (db *DB) ListSubscriptions(ctx context.Context, f SubscriptionFilter) ([]Subscription, error) {
	if !validKey(f.ApplicationID, f.API) {
		return nil, nil
	}
	rows, err := db.rows(ctx, db.read, qListSubscriptions, optional(f.ApplicationID), optional(f.API))
	if err != nil {
		return nil, opErr("list subscriptions", err)
	}
	ss, err := scanAll(rows, scanSubscription)
	if err != nil {
		return nil, opErr("list subscriptions", err)
	}
	return ss, nil
}
