package store

import (
	"context"
	"database/sql"
)

// changeOp names what a Change does.
type changeOp uint8

const (
	opCreateClient changeOp = iota + 1
	opUpdateClient
	opDeleteClient
	opCreateUser
	opUpdateUser
	opDeleteUser
)

// Change is one client, user or catalog write that AppendAudit runs in the same
// transaction as the audit record describing it, so the record and the
// write are committed together or not at all. Each Change behaves as the
// method it is named after (checks, ErrConflict, ErrNotFound, cascades).
// The zero Change is invalid.
type Change struct {
	op     changeOp
	client Client
	user   User
	id     string
	// cat is a catalog write (catalog.go); the fields above are unused.
	cat *catalogChange
	// ext is a write of a concept that keeps its statements in its own
	// file (applications.go); the fields above are unused.
	ext changer
}

// changer is a write that checks and applies itself, so a concept with
// its own file adds its changes without another case here.
type changer interface {
	name() string
	check() error
	apply(ctx context.Context, db *DB, tx *sql.Tx) error
}

// CreateClientChange is CreateClient(c) as a Change.
func CreateClientChange(c Client) Change { return Change{op: opCreateClient, client: c} }

// UpdateClientChange is UpdateClient(c) as a Change.
func UpdateClientChange(c Client) Change { return Change{op: opUpdateClient, client: c} }

// DeleteClientChange is DeleteClient(id) as a Change.
func DeleteClientChange(id string) Change { return Change{op: opDeleteClient, id: id} }

// CreateUserChange is CreateUser(u) as a Change.
func CreateUserChange(u User) Change { return Change{op: opCreateUser, user: u} }

// UpdateUserChange is UpdateUser(u) as a Change.
func UpdateUserChange(u User) Change { return Change{op: opUpdateUser, user: u} }

// DeleteUserChange is DeleteUser(id) as a Change.
func DeleteUserChange(id string) Change { return Change{op: opDeleteUser, id: id} }

// DeletesTokens reports whether applying the change deletes stored
// tokens: a client or a user removed with everything of theirs. Whoever
// caches answers about those tokens (the gateways) must hear of it.
func (c Change) DeletesTokens() bool {
	return c.ext == nil && c.cat == nil && (c.op == opDeleteClient || c.op == opDeleteUser)
}

// name is the operation's name in errors, the same as its method's.
func (c Change) name() string {
	if c.ext != nil {
		return c.ext.name()
	}
	if c.cat != nil {
		return c.cat.op
	}
	switch c.op {
	case opCreateClient:
		return "create client"
	case opUpdateClient:
		return "update client"
	case opDeleteClient:
		return "delete client"
	case opCreateUser:
		return "create user"
	case opUpdateUser:
		return "update user"
	case opDeleteUser:
		return "delete user"
	}
	return "change"
}

// check validates the change before the transaction starts.
func (c Change) check() error {
	if c.ext != nil {
		return c.ext.check()
	}
	if c.cat != nil {
		return c.cat.check()
	}
	switch c.op {
	case opCreateClient, opUpdateClient:
		return checkClient(c.client)
	case opCreateUser, opUpdateUser:
		return checkUser(c.user)
	case opDeleteClient, opDeleteUser:
		if !validKey(c.id) {
			return ErrNotFound
		}
		return nil
	}
	return invalid("empty change")
}

// apply runs the change inside tx, with the statements (and the
// cascades) of the method it stands for.
func (c Change) apply(ctx context.Context, db *DB, tx *sql.Tx) error {
	var (
		n   int64
		err error
	)
	if c.ext != nil {
		return c.ext.apply(ctx, db, tx)
	}
	if c.cat != nil {
		return c.cat.apply(ctx, db, tx)
	}
	switch c.op {
	case opCreateClient:
		_, err = db.txExec(ctx, tx, qCreateClient, append([]any{c.client.ID}, clientArgs(c.client)...)...)
		return mapWriteErr(err, ErrConflict)
	case opUpdateClient:
		n, err = db.txExec(ctx, tx, qUpdateClient, append(clientArgs(c.client), c.client.ID)...)
	case opDeleteClient:
		n, err = db.txCascade(ctx, tx, c.id, qDeleteClient,
			qDeleteClientTokens, qDeleteClientCodes, qDeleteClientConsent)
	case opCreateUser:
		u := c.user
		_, err = db.txExec(ctx, tx, qCreateUser, u.ID, u.Username, u.PasswordHash,
			listArg(u.Roles), mapArg(u.Attrs), u.Disabled, timeArg(u.CreatedAt), timeArg(u.UpdatedAt))
		return mapWriteErr(err, ErrConflict)
	case opUpdateUser:
		u := c.user
		n, err = db.txExec(ctx, tx, qUpdateUser, u.Username, u.PasswordHash,
			listArg(u.Roles), mapArg(u.Attrs), u.Disabled, timeArg(u.CreatedAt), timeArg(u.UpdatedAt), u.ID)
		// A rename onto a taken username.
		err = mapWriteErr(err, ErrConflict)
	case opDeleteUser:
		n, err = db.txCascade(ctx, tx, c.id, qDeleteUser,
			qDeleteUserSessions, qDeleteUserConsents, qDeleteUserTokens, qDeleteUserCodes)
	default:
		return invalid("empty change")
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// txCascade deletes the row of id with del and then what hangs off it
// with the cascade statements, as DeleteClient and DeleteUser do; it
// reports the rows del removed.
func (db *DB) txCascade(ctx context.Context, tx *sql.Tx, id string, del query, cascade ...query) (int64, error) {
	n, err := db.txExec(ctx, tx, del, id)
	if err != nil || n == 0 {
		return n, err
	}
	for _, q := range cascade {
		if _, err := db.txExec(ctx, tx, q, id); err != nil {
			return 0, err
		}
	}
	return n, nil
}
