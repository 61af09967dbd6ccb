package store

import "context"

var (
	qGetConsent = newQuery(`SELECT subject, client_id, scopes, granted_at FROM consents
		WHERE subject = ? AND client_id = ?`)
	// One statement, so two concurrent saves cannot both insert.
	qSaveConsent = newQuery(`INSERT INTO consents (subject, client_id, scopes, granted_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (subject, client_id)
		DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`)
)

// GetConsent returns what the subject granted the client, or ErrNotFound.
func (db *DB) GetConsent(ctx context.Context, subject, clientID string) (Consent, error) {
	if !validKey(subject, clientID) {
		return Consent{}, opErr("get consent", ErrNotFound)
	}
	var c Consent
	err := db.row(ctx, db.read, qGetConsent, subject, clientID).
		Scan(&c.Subject, &c.ClientID, jsonCol[[]string]{&c.Scopes}, timeCol{&c.GrantedAt})
	if err != nil {
		return Consent{}, opErr("get consent", mapReadErr(err))
	}
	return c, nil
}

// SaveConsent inserts or replaces a consent.
func (db *DB) SaveConsent(ctx context.Context, c Consent) error {
	const op = "save consent"
	if err := checkRequired("consent subject", c.Subject); err != nil {
		return opErr(op, err)
	}
	if err := checkRequired("consent client id", c.ClientID); err != nil {
		return opErr(op, err)
	}
	if err := checkList("consent scopes", c.Scopes); err != nil {
		return opErr(op, err)
	}
	if err := checkTime("consent granted at", c.GrantedAt); err != nil {
		return opErr(op, err)
	}
	_, err := db.write1(ctx, qSaveConsent, c.Subject, c.ClientID,
		listArg(c.Scopes), timeArg(c.GrantedAt))
	if err != nil {
		return opErr(op, err)
	}
	return nil
}
