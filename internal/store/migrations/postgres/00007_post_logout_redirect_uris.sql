-- The post-logout redirect URIs of each client (same column as
-- migrations/sqlite, which explains it).

-- +goose Up
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT;

-- +goose Down
ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
