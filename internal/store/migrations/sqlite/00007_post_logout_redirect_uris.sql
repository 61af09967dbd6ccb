-- The post-logout redirect URIs of each client (same column as
-- migrations/postgres).
--
-- clients.post_logout_redirect_uris is OpenID Connect RP-Initiated
-- Logout 1.0 §3.1's client metadata: the URIs the end-session endpoint
-- may send the browser back to after a logout, compared verbatim. A JSON
-- array like redirect_uris; NULL (every row that predates this
-- migration) means none, so no existing client gains a redirect target.

-- +goose Up
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT;

-- +goose Down
ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
