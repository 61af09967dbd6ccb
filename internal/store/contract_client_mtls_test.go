package store

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// clientMTLSTests cover the RFC 8705 client columns (migration 00009):
// the tls_client_auth subject fields and the certificate-bound-tokens
// flag.
func clientMTLSTests() []contractTest {
	ctx := context.Background()
	return []contractTest{
		{"ClientMTLSRoundTrip", func(t *testing.T, db *DB) {
			for _, tc := range []struct {
				name string
				auth TLSClientAuth
			}{
				{"subject-dn", TLSClientAuth{SubjectDN: "CN=svc,O=Example\\, Inc.,C=DE"}},
				{"san-dns", TLSClientAuth{SANDNS: "svc.example.com"}},
				{"san-uri", TLSClientAuth{SANURI: "spiffe://example.com/svc"}},
				{"san-ip", TLSClientAuth{SANIP: "2001:db8::7"}},
				{"san-email", TLSClientAuth{SANEmail: "svc@example.com"}},
			} {
				c := fullClient("mtls-" + tc.name)
				c.AuthMethod, c.SecretDigest, c.SecretKeyID = AuthTLSClient, nil, ""
				c.TLSClientAuth = tc.auth
				c.CertBoundAccessTokens = true
				mustNil(t, "CreateClient "+tc.name, db.CreateClient(ctx, c))
				got, err := db.GetClient(ctx, c.ID)
				mustNil(t, "GetClient "+tc.name, err)
				if got.TLSClientAuth != tc.auth || !got.CertBoundAccessTokens {
					t.Errorf("%s: got %+v, bound %v; want %+v, bound", tc.name, got.TLSClientAuth, got.CertBoundAccessTokens, tc.auth)
				}
				// An update can clear them again.
				c.TLSClientAuth, c.CertBoundAccessTokens = TLSClientAuth{}, false
				c.AuthMethod = AuthSelfSignedTLSClient
				mustNil(t, "UpdateClient "+tc.name, db.UpdateClient(ctx, c))
				got, err = db.GetClient(ctx, c.ID)
				mustNil(t, "GetClient after update "+tc.name, err)
				if diff := cmp.Diff(c, got); diff != "" {
					t.Errorf("%s after update (-want +got):\n%s", tc.name, diff)
				}
			}
		}},
		{"ClientWrittenBeforeMTLSIsUnbound", func(t *testing.T, db *DB) {
			// A row written without the columns, as every row that
			// predates migration 00009 was, reads back with none set.
			q := newQuery(`INSERT INTO clients (id, name, auth_method, grant_types, redirect_uris,
				scopes, audience, access_token_format, can_introspect, skip_consent,
				access_token_ttl, refresh_token_ttl, created_at, updated_at)
				VALUES ('old', 'old', 'client_secret_basic', '[]', '[]', '[]', '[]', 'opaque',
				?, ?, 0, 0, ?, ?)`)
			sql := q.sqlite
			if db.Dialect() == "postgres" {
				sql = q.postgres
			}
			if _, err := db.write.ExecContext(ctx, sql, false, false, base.UnixNano(), base.UnixNano()); err != nil {
				t.Fatalf("insert old-style client: %v", err)
			}
			got, err := db.GetClient(ctx, "old")
			mustNil(t, "GetClient", err)
			if !got.TLSClientAuth.IsZero() || got.CertBoundAccessTokens {
				t.Errorf("got %+v, bound %v; want none", got.TLSClientAuth, got.CertBoundAccessTokens)
			}
		}},
		{"ClientTLSSubjectMustBeText", func(t *testing.T, db *DB) {
			c := fullClient("bad-dn")
			c.TLSClientAuth.SubjectDN = "CN=a\x00b"
			wantErr(t, "CreateClient with NUL in the subject DN", db.CreateClient(ctx, c), ErrInvalid)
		}},
	}
}
