-- The DPoP key an authorization code is bound to (same column as
-- migrations/sqlite, which explains it).

-- +goose Up
ALTER TABLE auth_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE auth_codes DROP COLUMN dpop_jkt;
