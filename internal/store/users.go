package store

import (
	"context"
	"database/sql"
)

const userCols = `id, username, password_hash, roles, attrs, disabled, created_at, updated_at`

var (
	qCreateUser = newQuery(`INSERT INTO users (` + userCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	qGetUser           = newQuery(`SELECT ` + userCols + ` FROM users WHERE id = ?`)
	qGetUserByUsername = newQuery(`SELECT ` + userCols + ` FROM users WHERE username = ?`)
	qListUsers         = newQuery(`SELECT ` + userCols + ` FROM users ORDER BY username`)
	qUpdateUser        = newQuery(`UPDATE users SET username = ?, password_hash = ?,
		roles = ?, attrs = ?, disabled = ?, created_at = ?, updated_at = ?
		WHERE id = ?`)
	qDeleteUser         = newQuery(`DELETE FROM users WHERE id = ?`)
	qDeleteUserSessions = newQuery(`DELETE FROM sessions WHERE subject = ?`)
	qDeleteUserConsents = newQuery(`DELETE FROM consents WHERE subject = ?`)
	qDeleteUserTokens   = newQuery(`DELETE FROM tokens WHERE subject = ?`)
	qDeleteUserCodes    = newQuery(`DELETE FROM auth_codes WHERE subject = ?`)
)

// checkUser validates u before a write.
func checkUser(u User) error {
	if err := checkRequired("user id", u.ID); err != nil {
		return err
	}
	if err := checkRequired("username", u.Username); err != nil {
		return err
	}
	if err := checkText("user password hash", u.PasswordHash); err != nil {
		return err
	}
	if err := checkList("user roles", u.Roles); err != nil {
		return err
	}
	for k, v := range u.Attrs {
		if err := checkText("user attribute name", k); err != nil {
			return err
		}
		if err := checkText("user attribute value", v); err != nil {
			return err
		}
	}
	if err := checkTime("user created at", u.CreatedAt); err != nil {
		return err
	}
	return checkTime("user updated at", u.UpdatedAt)
}

func scanUser(r rowScanner) (User, error) {
	var u User
	err := r.Scan(&u.ID, &u.Username, &u.PasswordHash,
		jsonCol[[]string]{&u.Roles}, jsonCol[map[string]string]{&u.Attrs},
		&u.Disabled, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
	return u, err
}

// CreateUser inserts u; ErrConflict if the id or username exists.
func (db *DB) CreateUser(ctx context.Context, u User) error {
	const op = "create user"
	if err := checkUser(u); err != nil {
		return opErr(op, err)
	}
	_, err := db.write1(ctx, qCreateUser, u.ID, u.Username, u.PasswordHash,
		listArg(u.Roles), mapArg(u.Attrs), u.Disabled,
		timeArg(u.CreatedAt), timeArg(u.UpdatedAt))
	if err != nil {
		return opErr(op, mapWriteErr(err, ErrConflict))
	}
	return nil
}

// GetUser returns the user with id, or ErrNotFound.
func (db *DB) GetUser(ctx context.Context, id string) (User, error) {
	if !validKey(id) {
		return User{}, opErr("get user", ErrNotFound)
	}
	u, err := scanUser(db.row(ctx, db.read, qGetUser, id))
	if err != nil {
		return User{}, opErr("get user", mapReadErr(err))
	}
	return u, nil
}

// GetUserByUsername returns the user with that username, or ErrNotFound.
func (db *DB) GetUserByUsername(ctx context.Context, username string) (User, error) {
	if !validKey(username) {
		return User{}, opErr("get user by username", ErrNotFound)
	}
	u, err := scanUser(db.row(ctx, db.read, qGetUserByUsername, username))
	if err != nil {
		return User{}, opErr("get user by username", mapReadErr(err))
	}
	return u, nil
}

// ListUsers returns every user ordered by username.
func (db *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := db.rows(ctx, db.read, qListUsers)
	if err != nil {
		return nil, opErr("list users", err)
	}
	us, err := scanAll(rows, scanUser)
	if err != nil {
		return nil, opErr("list users", err)
	}
	return us, nil
}

// UpdateUser replaces every field of the user with u.ID; ErrNotFound if
// absent.
func (db *DB) UpdateUser(ctx context.Context, u User) error {
	const op = "update user"
	if err := checkUser(u); err != nil {
		return opErr(op, err)
	}
	n, err := db.write1(ctx, qUpdateUser, u.Username, u.PasswordHash,
		listArg(u.Roles), mapArg(u.Attrs), u.Disabled,
		timeArg(u.CreatedAt), timeArg(u.UpdatedAt), u.ID)
	if err != nil {
		// A rename onto a taken username.
		return opErr(op, mapWriteErr(err, ErrConflict))
	}
	if n == 0 {
		return opErr(op, ErrNotFound)
	}
	return nil
}

// DeleteUser removes the user, its sessions, consents and tokens;
// ErrNotFound if absent. Its unredeemed authorization codes go too: a code
// must not outlive the user it would mint tokens for.
func (db *DB) DeleteUser(ctx context.Context, id string) error {
	if !validKey(id) {
		return opErr("delete user", ErrNotFound)
	}
	// The same statements as an audited DeleteUserChange.
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		return DeleteUserChange(id).apply(ctx, db, tx)
	})
	return opErr("delete user", err)
}
