-- The DPoP key an authorization code is bound to (same column as
-- migrations/postgres).
--
-- auth_codes.dpop_jkt is the dpop_jkt parameter of the authorization
-- request (RFC 9449 §10): the base64url SHA-256 JWK thumbprint (RFC 7638)
-- of the key whose DPoP proof must come with the code at the token
-- endpoint. '' (every row that predates this migration) means the code is
-- bound to no key. Not NULL, so a read never has to tell NULL from ''.

-- +goose Up
ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE auth_codes DROP COLUMN dpop_jkt;
