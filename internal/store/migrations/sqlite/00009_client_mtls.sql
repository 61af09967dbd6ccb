-- Mutual-TLS client authentication and certificate-bound access tokens
-- (RFC 8705) for each client (same columns as migrations/postgres).
--
-- clients.tls_client_auth_* are RFC 8705 §2.1.2's client metadata: a
-- tls_client_auth client registers exactly one of them, and the
-- certificate it presents must carry that subject DN (RFC 4514 string
-- form) or subject alternative name. '' (every row that predates this
-- migration, and every client of another method) means not registered.
--
-- clients.tls_client_certificate_bound_access_tokens is RFC 8705 §3.4's
-- flag: the client's access tokens carry cnf x5t#S256 of its
-- certificate. 0 for every existing client, so none starts needing one.

-- +goose Up
ALTER TABLE clients ADD COLUMN tls_client_auth_subject_dn TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_dns TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_san_email TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_certificate_bound_access_tokens INTEGER NOT NULL DEFAULT 0
    CHECK (tls_client_certificate_bound_access_tokens IN (0, 1));

-- +goose Down
ALTER TABLE clients DROP COLUMN tls_client_certificate_bound_access_tokens;
ALTER TABLE clients DROP COLUMN tls_client_auth_san_email;
ALTER TABLE clients DROP COLUMN tls_client_auth_san_ip;
ALTER TABLE clients DROP COLUMN tls_client_auth_san_uri;
ALTER TABLE clients DROP COLUMN tls_client_auth_san_dns;
ALTER TABLE clients DROP COLUMN tls_client_auth_subject_dn;
