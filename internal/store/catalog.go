package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// The lifecycle states an API version may be stored in. Which moves
// between them are allowed is internal/catalog's rule; the store only
// refuses a state outside this list (so do both schemas).
var apiVersionStates = []string{"draft", "published", "deprecated", "retired"}

// APIVersion is one stored version of an API: the columns the catalog is
// listed and filtered by, and Entry, the whole catalog.API as JSON, from
// which a gateway builds its route.
type APIVersion struct {
	// Name and Version identify the version; together they are the key.
	Name    string
	Version string
	// BasePath is the version's base path on the gateway, unique across
	// stored versions (ErrConflict otherwise).
	BasePath string
	Upstream string
	// Entry is the catalog.API as JSON; required.
	Entry       []byte
	Description string
	Owners      []string
	Tags        []string
	// Gateways are the gateway groups serving the version; nil means the
	// default group only.
	Gateways []string
	// State is draft, published, deprecated or retired.
	State string
	// DeprecatedAt is when the version was deprecated; zero if never.
	DeprecatedAt time.Time
	// Sunset is when the version stops being served (RFC 8594); zero
	// for none announced.
	Sunset    time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Group kinds.
const (
	GroupAPI     = "api"
	GroupGateway = "gateway"
)

// Group is an API group (Kind GroupAPI: Members are API names) or a
// gateway group (Kind GroupGateway: no members; a gateway joins by its
// configuration). Kind and Name are the key.
type Group struct {
	Kind        string
	Name        string
	Description string
	Members     []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Plan is a named bundle of limits. Limits is a JSON array of
// catalog.Limit; required.
type Plan struct {
	Name        string
	Description string
	Limits      []byte
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const apiVersionCols = `name, version, base_path, upstream, entry, description, owners, tags,
	state, deprecated_at, sunset, created_at, updated_at, gateways`

var (
	qCreateAPIVersion = newQuery(`INSERT INTO catalog_api_versions (` + apiVersionCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qUpdateAPIVersion = newQuery(`UPDATE catalog_api_versions SET base_path = ?, upstream = ?,
		entry = ?, description = ?, owners = ?, tags = ?, state = ?, deprecated_at = ?,
		sunset = ?, created_at = ?, updated_at = ?, gateways = ? WHERE name = ? AND version = ?`)
	qDeleteAPIVersion = newQuery(`DELETE FROM catalog_api_versions WHERE name = ? AND version = ?`)
	qGetAPIVersion    = newQuery(`SELECT ` + apiVersionCols + ` FROM catalog_api_versions
		WHERE name = ? AND version = ?`)
	qListAPIVersions = newQuery(`SELECT ` + apiVersionCols + ` FROM catalog_api_versions
		ORDER BY name, version`)

	qCreatePlan = newQuery(`INSERT INTO catalog_plans (name, description, limits, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)`)
	qUpdatePlan = newQuery(`UPDATE catalog_plans SET description = ?, limits = ?, created_at = ?,
		updated_at = ? WHERE name = ?`)
	qDeletePlan = newQuery(`DELETE FROM catalog_plans WHERE name = ?`)
	qListPlans  = newQuery(`SELECT name, description, limits, created_at, updated_at
		FROM catalog_plans ORDER BY name`)

	qCreateGroup = newQuery(`INSERT INTO catalog_groups (kind, name, description, members, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`)
	qUpdateGroup = newQuery(`UPDATE catalog_groups SET description = ?, members = ?, created_at = ?,
		updated_at = ? WHERE kind = ? AND name = ?`)
	qDeleteGroup = newQuery(`DELETE FROM catalog_groups WHERE kind = ? AND name = ?`)
	qListGroups  = newQuery(`SELECT kind, name, description, members, created_at, updated_at
		FROM catalog_groups ORDER BY kind, name`)

	// An UPDATE rather than a SELECT, so the row stays locked until
	// the commit: a concurrent writer waits, then finds the revision
	// moved (PostgreSQL re-evaluates the WHERE after the wait).
	qExpectCatalogRevision = newQuery(`UPDATE catalog_revision SET revision = revision
		WHERE id = 1 AND revision = ?`)
	qBumpCatalogRevision = newQuery(`UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1`)
	qGetCatalogRevision  = newQuery(`SELECT revision FROM catalog_revision WHERE id = 1`)
)

// checkAPIVersion validates v before a write.
func checkAPIVersion(v APIVersion) error {
	for _, f := range []struct{ name, v string }{
		{"api name", v.Name}, {"api version", v.Version}, {"api base path", v.BasePath},
		{"api upstream", v.Upstream},
	} {
		if err := checkRequired(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkText("api description", v.Description); err != nil {
		return err
	}
	if err := checkList("api owners", v.Owners); err != nil {
		return err
	}
	if err := checkList("api tags", v.Tags); err != nil {
		return err
	}
	if err := checkList("api gateways", v.Gateways); err != nil {
		return err
	}
	if !slices.Contains(apiVersionStates, v.State) {
		return invalid("api state is not one of draft, published, deprecated, retired")
	}
	if err := checkJSON("api entry", v.Entry); err != nil {
		return err
	}
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"api deprecated at", v.DeprecatedAt}, {"api sunset", v.Sunset}, {"api created at", v.CreatedAt}, {"api updated at", v.UpdatedAt}} {
		if err := checkTime(t.name, t.t); err != nil {
			return err
		}
	}
	return nil
}

// checkPlan validates p before a write.
func checkPlan(p Plan) error {
	if err := checkRequired("plan name", p.Name); err != nil {
		return err
	}
	if err := checkText("plan description", p.Description); err != nil {
		return err
	}
	if err := checkJSON("plan limits", p.Limits); err != nil {
		return err
	}
	if err := checkTime("plan created at", p.CreatedAt); err != nil {
		return err
	}
	return checkTime("plan updated at", p.UpdatedAt)
}

// checkGroup validates g before a write.
func checkGroup(g Group) error {
	if g.Kind != GroupAPI && g.Kind != GroupGateway {
		return invalid("group kind is not one of api, gateway")
	}
	if err := checkRequired("group name", g.Name); err != nil {
		return err
	}
	if err := checkText("group description", g.Description); err != nil {
		return err
	}
	if err := checkList("group members", g.Members); err != nil {
		return err
	}
	if err := checkTime("group created at", g.CreatedAt); err != nil {
		return err
	}
	return checkTime("group updated at", g.UpdatedAt)
}

// checkJSON refuses an empty or malformed JSON document: a row a gateway
// cannot decode would stop every gateway's reload.
func checkJSON(field string, b []byte) error {
	if len(b) == 0 || !json.Valid(b) {
		return invalid("%s is not a JSON document", field)
	}
	return checkText(field, string(b))
}

func scanAPIVersion(r rowScanner) (APIVersion, error) {
	var v APIVersion
	var entry string
	err := r.Scan(&v.Name, &v.Version, &v.BasePath, &v.Upstream, &entry, &v.Description,
		jsonCol[[]string]{&v.Owners}, jsonCol[[]string]{&v.Tags}, &v.State,
		timeCol{&v.DeprecatedAt}, timeCol{&v.Sunset}, timeCol{&v.CreatedAt}, timeCol{&v.UpdatedAt},
		jsonCol[[]string]{&v.Gateways})
	v.Entry = []byte(entry)
	return v, err
}

func scanGroup(r rowScanner) (Group, error) {
	var g Group
	err := r.Scan(&g.Kind, &g.Name, &g.Description, jsonCol[[]string]{&g.Members},
		timeCol{&g.CreatedAt}, timeCol{&g.UpdatedAt})
	return g, err
}

func scanPlan(r rowScanner) (Plan, error) {
	var p Plan
	var limits string
	err := r.Scan(&p.Name, &p.Description, &limits, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt})
	p.Limits = []byte(limits)
	return p, err
}

// catalogChange is the catalog part of a Change: one write to the stored
// catalog, which also bumps the revision in the same transaction.
type catalogChange struct {
	op      string // the method's name, for errors
	version *APIVersion
	plan    *Plan
	group   *Group
	create  bool
	// name and ver key a delete; kind with name a group's.
	name, ver, kind string
	// expect is set for ExpectCatalogRevisionChange.
	expect *int64
}

// ExpectCatalogRevisionChange writes nothing and fails with ErrConflict
// unless the catalog revision is rev, holding the revision row until the
// commit: put first among the changes computed from a read of the
// catalog at rev, it makes them apply only to what was read (optimistic
// concurrency), so two appliers never overwrite each other unseen.
func ExpectCatalogRevisionChange(rev int64) Change {
	return Change{cat: &catalogChange{op: "check catalog revision", expect: &rev}}
}

// CreateAPIVersionChange is CreateAPIVersion(v) as a Change.
func CreateAPIVersionChange(v APIVersion) Change {
	return Change{cat: &catalogChange{op: "create api version", version: &v, create: true}}
}

// UpdateAPIVersionChange is UpdateAPIVersion(v) as a Change.
func UpdateAPIVersionChange(v APIVersion) Change {
	return Change{cat: &catalogChange{op: "update api version", version: &v}}
}

// DeleteAPIVersionChange is DeleteAPIVersion(name, version) as a Change.
func DeleteAPIVersionChange(name, version string) Change {
	return Change{cat: &catalogChange{op: "delete api version", name: name, ver: version}}
}

// CreatePlanChange inserts p; ErrConflict if the name exists.
func CreatePlanChange(p Plan) Change {
	return Change{cat: &catalogChange{op: "create plan", plan: &p, create: true}}
}

// UpdatePlanChange replaces the plan named p.Name; ErrNotFound if absent.
func UpdatePlanChange(p Plan) Change {
	return Change{cat: &catalogChange{op: "update plan", plan: &p}}
}

// DeletePlanChange removes the plan named name; ErrNotFound if absent.
func DeletePlanChange(name string) Change {
	return Change{cat: &catalogChange{op: "delete plan", name: name}}
}

// CreateGroupChange inserts g; ErrConflict if its kind and name exist.
func CreateGroupChange(g Group) Change {
	return Change{cat: &catalogChange{op: "create group", group: &g, create: true}}
}

// UpdateGroupChange replaces the group g keys; ErrNotFound if absent.
func UpdateGroupChange(g Group) Change {
	return Change{cat: &catalogChange{op: "update group", group: &g}}
}

// DeleteGroupChange removes the group of kind and name; ErrNotFound if
// absent.
func DeleteGroupChange(kind, name string) Change {
	return Change{cat: &catalogChange{op: "delete group", kind: kind, name: name}}
}

func (c *catalogChange) check() error {
	switch {
	case c.expect != nil:
		return nil
	case c.version != nil:
		return checkAPIVersion(*c.version)
	case c.plan != nil:
		return checkPlan(*c.plan)
	case c.group != nil:
		return checkGroup(*c.group)
	case c.kind != "":
		if !validKey(c.kind, c.name) {
			return ErrNotFound
		}
		return nil
	case !validKey(c.name, c.ver):
		return ErrNotFound
	}
	return nil
}

func (c *catalogChange) apply(ctx context.Context, db *DB, tx *sql.Tx) error {
	var (
		n   int64
		err error
	)
	switch {
	case c.expect != nil:
		n, err := db.txExec(ctx, tx, qExpectCatalogRevision, *c.expect)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrCatalogMoved
		}
		return nil
	case c.version != nil:
		v := c.version
		if c.create {
			_, err = db.txExec(ctx, tx, qCreateAPIVersion, v.Name, v.Version, v.BasePath, v.Upstream,
				string(v.Entry), v.Description, listArg(v.Owners), listArg(v.Tags), v.State,
				timeArg(v.DeprecatedAt), timeArg(v.Sunset), timeArg(v.CreatedAt), timeArg(v.UpdatedAt),
				listArg(v.Gateways))
			n = 1
		} else {
			n, err = db.txExec(ctx, tx, qUpdateAPIVersion, v.BasePath, v.Upstream, string(v.Entry),
				v.Description, listArg(v.Owners), listArg(v.Tags), v.State, timeArg(v.DeprecatedAt),
				timeArg(v.Sunset), timeArg(v.CreatedAt), timeArg(v.UpdatedAt), listArg(v.Gateways),
				v.Name, v.Version)
		}
		// A taken key, or a base path another version has.
		err = mapWriteErr(err, ErrConflict)
	case c.plan != nil:
		p := c.plan
		if c.create {
			_, err = db.txExec(ctx, tx, qCreatePlan, p.Name, p.Description, string(p.Limits),
				timeArg(p.CreatedAt), timeArg(p.UpdatedAt))
			n = 1
		} else {
			n, err = db.txExec(ctx, tx, qUpdatePlan, p.Description, string(p.Limits),
				timeArg(p.CreatedAt), timeArg(p.UpdatedAt), p.Name)
		}
		err = mapWriteErr(err, ErrConflict)
	case c.group != nil:
		g := c.group
		if c.create {
			_, err = db.txExec(ctx, tx, qCreateGroup, g.Kind, g.Name, g.Description, listArg(g.Members),
				timeArg(g.CreatedAt), timeArg(g.UpdatedAt))
			n = 1
		} else {
			n, err = db.txExec(ctx, tx, qUpdateGroup, g.Description, listArg(g.Members),
				timeArg(g.CreatedAt), timeArg(g.UpdatedAt), g.Kind, g.Name)
		}
		err = mapWriteErr(err, ErrConflict)
	case c.kind != "":
		n, err = db.txExec(ctx, tx, qDeleteGroup, c.kind, c.name)
	case c.ver != "":
		n, err = db.txExec(ctx, tx, qDeleteAPIVersion, c.name, c.ver)
	default:
		n, err = db.txExec(ctx, tx, qDeletePlan, c.name)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	// Every catalog write moves the revision with it, so a gateway that
	// saw the new revision also sees the write.
	if n, err = db.txExec(ctx, tx, qBumpCatalogRevision); err != nil {
		return err
	}
	if n != 1 {
		return errNoCatalogRevision
	}
	return nil
}

// ErrCatalogMoved is ExpectCatalogRevisionChange's failure: the catalog
// revision is no longer the one expected. It is an ErrConflict.
var ErrCatalogMoved = fmt.Errorf("%w: the catalog revision moved", ErrConflict)

// errNoCatalogRevision means the revision row is missing: the migration
// did not run, or the table was tampered with.
var errNoCatalogRevision = invalid("catalog revision row is missing")

// applyCatalog runs one catalog change in its own transaction, for the
// unaudited methods.
func (db *DB) applyCatalog(ctx context.Context, c Change) error {
	if err := c.check(); err != nil {
		return opErr(c.name(), err)
	}
	return opErr(c.name(), db.inTx(ctx, func(tx *sql.Tx) error { return c.apply(ctx, db, tx) }))
}

// CreateAPIVersion inserts v and bumps the catalog revision; ErrConflict
// if its name and version, or its base path, are taken. Writes that must
// be audited go through CreateAPIVersionChange instead.
func (db *DB) CreateAPIVersion(ctx context.Context, v APIVersion) error {
	return db.applyCatalog(ctx, CreateAPIVersionChange(v))
}

// UpdateAPIVersion replaces every field of the version v names and bumps
// the catalog revision; ErrNotFound if absent, ErrConflict if its new
// base path is taken.
func (db *DB) UpdateAPIVersion(ctx context.Context, v APIVersion) error {
	return db.applyCatalog(ctx, UpdateAPIVersionChange(v))
}

// DeleteAPIVersion removes a version and bumps the catalog revision;
// ErrNotFound if absent.
func (db *DB) DeleteAPIVersion(ctx context.Context, name, version string) error {
	return db.applyCatalog(ctx, DeleteAPIVersionChange(name, version))
}

// GetAPIVersion returns the version of name, or ErrNotFound.
func (db *DB) GetAPIVersion(ctx context.Context, name, version string) (APIVersion, error) {
	if !validKey(name, version) {
		return APIVersion{}, opErr("get api version", ErrNotFound)
	}
	v, err := scanAPIVersion(db.row(ctx, db.read, qGetAPIVersion, name, version))
	if err != nil {
		return APIVersion{}, opErr("get api version", mapReadErr(err))
	}
	return v, nil
}

// ListAPIVersions returns every stored version, ordered by name and
// version.
func (db *DB) ListAPIVersions(ctx context.Context) ([]APIVersion, error) {
	rows, err := db.rows(ctx, db.read, qListAPIVersions)
	if err != nil {
		return nil, opErr("list api versions", err)
	}
	vs, err := scanAll(rows, scanAPIVersion)
	if err != nil {
		return nil, opErr("list api versions", err)
	}
	return vs, nil
}

// ListPlans returns every stored plan, ordered by name.
func (db *DB) ListPlans(ctx context.Context) ([]Plan, error) {
	rows, err := db.rows(ctx, db.read, qListPlans)
	if err != nil {
		return nil, opErr("list plans", err)
	}
	ps, err := scanAll(rows, scanPlan)
	if err != nil {
		return nil, opErr("list plans", err)
	}
	return ps, nil
}

// ListGroups returns every stored group, ordered by kind and name.
func (db *DB) ListGroups(ctx context.Context) ([]Group, error) {
	rows, err := db.rows(ctx, db.read, qListGroups)
	if err != nil {
		return nil, opErr("list groups", err)
	}
	gs, err := scanAll(rows, scanGroup)
	if err != nil {
		return nil, opErr("list groups", err)
	}
	return gs, nil
}

// CatalogRevision returns the catalog's revision: 0 before the first
// catalog write, then one more for every write. Read it before the
// catalog itself, so a write in between only makes the next poll read
// the catalog again.
func (db *DB) CatalogRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := db.row(ctx, db.read, qGetCatalogRevision).Scan(&rev); err != nil {
		return 0, opErr("get catalog revision", mapReadErr(err))
	}
	return rev, nil
}
