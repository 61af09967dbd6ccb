-- Mutual-TLS client authentication and certificate-bound access tokens
-- (same columns as migrations/sqlite, which explains them).

-- +goose Up
ALTER TABLE clients ADD COLUMN tls_client_auth_subject_dn TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_dns TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_email TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_certificate_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE clients DROP COLUMN tls_client_certificate_bound_access_tokens;
ALTER TABLE clients DROP COLUMN tls_client_auth_san_email;
ALTER TABLE clients DROP COLUMN tls_client_auth_san_ip;
ALTER TABLE clients DROP COLUMN tls_client_auth_san_uri;
ALTER TABLE clients DROP COLUMN tls_client_auth_san_dns;
ALTER TABLE clients DROP COLUMN tls_client_auth_subject_dn;
