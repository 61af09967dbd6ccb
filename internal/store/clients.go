package store

import (
	"context"
	"database/sql"
	"time"
)

const clientCols = `id, name, secret_digest, auth_method, grant_types, redirect_uris,
	scopes, audience, access_token_format, jwks, can_introspect, skip_consent,
	access_token_ttl, refresh_token_ttl, created_at, updated_at, secret_key_id,
	post_logout_redirect_uris, tls_client_auth_subject_dn, tls_client_auth_san_dns,
	tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email,
	tls_client_certificate_bound_access_tokens`

var (
	qCreateClient = newQuery(`INSERT INTO clients (` + clientCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qGetClient    = newQuery(`SELECT ` + clientCols + ` FROM clients WHERE id = ?`)
	qListClients  = newQuery(`SELECT ` + clientCols + ` FROM clients ORDER BY id`)
	qUpdateClient = newQuery(`UPDATE clients SET name = ?, secret_digest = ?,
		auth_method = ?, grant_types = ?, redirect_uris = ?, scopes = ?,
		audience = ?, access_token_format = ?, jwks = ?, can_introspect = ?,
		skip_consent = ?, access_token_ttl = ?, refresh_token_ttl = ?,
		created_at = ?, updated_at = ?, secret_key_id = ?,
		post_logout_redirect_uris = ?, tls_client_auth_subject_dn = ?,
		tls_client_auth_san_dns = ?, tls_client_auth_san_uri = ?,
		tls_client_auth_san_ip = ?, tls_client_auth_san_email = ?,
		tls_client_certificate_bound_access_tokens = ?
		WHERE id = ?`)
	qDeleteClient        = newQuery(`DELETE FROM clients WHERE id = ?`)
	qDeleteClientTokens  = newQuery(`DELETE FROM tokens WHERE client_id = ?`)
	qDeleteClientCodes   = newQuery(`DELETE FROM auth_codes WHERE client_id = ?`)
	qDeleteClientConsent = newQuery(`DELETE FROM consents WHERE client_id = ?`)
)

// checkClient validates c before a write.
func checkClient(c Client) error {
	if err := checkRequired("client id", c.ID); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"client name", c.Name},
		{"client auth method", c.AuthMethod},
		{"client access token format", c.AccessTokenFormat},
		{"client secret key id", c.SecretKeyID},
		{"client tls subject dn", c.TLSClientAuth.SubjectDN},
		{"client tls san dns", c.TLSClientAuth.SANDNS},
		{"client tls san uri", c.TLSClientAuth.SANURI},
		{"client tls san ip", c.TLSClientAuth.SANIP},
		{"client tls san email", c.TLSClientAuth.SANEmail},
	} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		v    []string
	}{
		{"client grant types", c.GrantTypes},
		{"client redirect uris", c.RedirectURIs},
		{"client post-logout redirect uris", c.PostLogoutRedirectURIs},
		{"client scopes", c.Scopes},
		{"client audience", c.Audience},
	} {
		if err := checkList(f.name, f.v); err != nil {
			return err
		}
	}
	if c.AccessTokenTTL < 0 || c.RefreshTokenTTL < 0 {
		return invalid("client token ttl is negative")
	}
	if err := checkTime("client created at", c.CreatedAt); err != nil {
		return err
	}
	return checkTime("client updated at", c.UpdatedAt)
}

// clientArgs are the columns after id, in clientCols order.
func clientArgs(c Client) []any {
	return []any{
		c.Name, bytesArg(c.SecretDigest), c.AuthMethod,
		listArg(c.GrantTypes), listArg(c.RedirectURIs), listArg(c.Scopes),
		listArg(c.Audience), c.AccessTokenFormat, bytesArg(c.JWKS),
		c.CanIntrospect, c.SkipConsent,
		int64(c.AccessTokenTTL), int64(c.RefreshTokenTTL),
		timeArg(c.CreatedAt), timeArg(c.UpdatedAt), c.SecretKeyID,
		listArg(c.PostLogoutRedirectURIs),
		c.TLSClientAuth.SubjectDN, c.TLSClientAuth.SANDNS, c.TLSClientAuth.SANURI,
		c.TLSClientAuth.SANIP, c.TLSClientAuth.SANEmail, c.CertBoundAccessTokens,
	}
}

func scanClient(r rowScanner) (Client, error) {
	var c Client
	var accessTTL, refreshTTL int64
	err := r.Scan(&c.ID, &c.Name, bytesCol{&c.SecretDigest}, &c.AuthMethod,
		jsonCol[[]string]{&c.GrantTypes}, jsonCol[[]string]{&c.RedirectURIs},
		jsonCol[[]string]{&c.Scopes}, jsonCol[[]string]{&c.Audience},
		&c.AccessTokenFormat, bytesCol{&c.JWKS}, &c.CanIntrospect, &c.SkipConsent,
		&accessTTL, &refreshTTL, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}, &c.SecretKeyID,
		jsonCol[[]string]{&c.PostLogoutRedirectURIs},
		&c.TLSClientAuth.SubjectDN, &c.TLSClientAuth.SANDNS, &c.TLSClientAuth.SANURI,
		&c.TLSClientAuth.SANIP, &c.TLSClientAuth.SANEmail, &c.CertBoundAccessTokens)
	c.AccessTokenTTL = time.Duration(accessTTL)
	c.RefreshTokenTTL = time.Duration(refreshTTL)
	return c, err
}

// CreateClient inserts c; ErrConflict if the id exists.
func (db *DB) CreateClient(ctx context.Context, c Client) error {
	const op = "create client"
	if err := checkClient(c); err != nil {
		return opErr(op, err)
	}
	args := append([]any{c.ID}, clientArgs(c)...)
	if _, err := db.write1(ctx, qCreateClient, args...); err != nil {
		return opErr(op, mapWriteErr(err, ErrConflict))
	}
	return nil
}

// GetClient returns the client with id, or ErrNotFound.
func (db *DB) GetClient(ctx context.Context, id string) (Client, error) {
	if !validKey(id) {
		return Client{}, opErr("get client", ErrNotFound)
	}
	c, err := scanClient(db.row(ctx, db.read, qGetClient, id))
	if err != nil {
		return Client{}, opErr("get client", mapReadErr(err))
	}
	return c, nil
}

// ListClients returns every client ordered by id.
func (db *DB) ListClients(ctx context.Context) ([]Client, error) {
	rows, err := db.rows(ctx, db.read, qListClients)
	if err != nil {
		return nil, opErr("list clients", err)
	}
	cs, err := scanAll(rows, scanClient)
	if err != nil {
		return nil, opErr("list clients", err)
	}
	return cs, nil
}

// UpdateClient replaces every field of the client with c.ID; ErrNotFound if
// absent.
func (db *DB) UpdateClient(ctx context.Context, c Client) error {
	const op = "update client"
	if err := checkClient(c); err != nil {
		return opErr(op, err)
	}
	args := append(clientArgs(c), c.ID)
	n, err := db.write1(ctx, qUpdateClient, args...)
	if err != nil {
		return opErr(op, err)
	}
	if n == 0 {
		return opErr(op, ErrNotFound)
	}
	return nil
}

// DeleteClient removes the client and every token, code and consent of it;
// ErrNotFound if absent.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	const op = "delete client"
	if !validKey(id) {
		return opErr(op, ErrNotFound)
	}
	// The same statements as an audited DeleteClientChange. Tokens of a
	// client credentials grant carry the client id as client_id too, so
	// the cascade takes them with the rest.
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		return DeleteClientChange(id).apply(ctx, db, tx)
	})
	return opErr(op, err)
}

// inTx runs fn in a write transaction, committing when fn returns nil and
// rolling back otherwise (so a failed cascade deletes nothing).
func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
