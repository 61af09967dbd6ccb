package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// contractTest is one behaviour every dialect must show. Each gets a fresh,
// migrated database.
type contractTest struct {
	name string
	run  func(t *testing.T, db *DB)
}

// contractTests is the one table both dialects run.
func contractTests() []contractTest {
	var all []contractTest
	all = append(all, recordTests()...)
	all = append(all, tokenTests()...)
	all = append(all, codeTests()...)
	all = append(all, codeDPoPTests()...)
	all = append(all, revocationNoticeTests()...)
	all = append(all, clientMTLSTests()...)
	all = append(all, lifecycleTests()...)
	all = append(all, masterKeyTests()...)
	all = append(all, auditTests()...)
	all = append(all, catalogTests()...)
	all = append(all, applicationTests()...)
	return all
}

// runContract runs the contract table against databases made by newDB.
func runContract(t *testing.T, newDB func(t *testing.T) *DB) {
	for _, tc := range contractTests() {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newDB(t))
		})
	}
}

// base is a time with nanoseconds in a zone other than UTC, so round trips
// prove both precision and zone handling.
var base = time.Date(2031, time.March, 4, 5, 6, 7, 123456789, time.FixedZone("test", 5*3600))

// digest stands in for the SHA-256 of a token the client holds.
func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

func fullClient(id string) Client {
	return Client{
		ID:           id,
		Name:         "Client " + id,
		SecretDigest: digest("secret-" + id),
		SecretKeyID:  "0a1b2c3d",
		AuthMethod:   AuthPrivateKeyJWT,
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{"https://app.example/cb", "https://app.example/cb2"},
		// Verbatim, query and all: the end-session endpoint compares
		// exactly what was registered.
		PostLogoutRedirectURIs: []string{"https://app.example/", "https://app.example/bye?from=idp"},
		Scopes:                 []string{"openid", "list_items", "order_item"},
		Audience:               []string{"https://api.example/warehouse"},
		AccessTokenFormat:      FormatSplit,
		JWKS:                   []byte(`{"keys":[]}`),
		CanIntrospect:          true,
		SkipConsent:            true,
		AccessTokenTTL:         5 * time.Minute,
		RefreshTokenTTL:        30 * 24 * time.Hour,
		CreatedAt:              base,
		UpdatedAt:              base.Add(time.Second),
	}
}

func fullUser(id, username string) User {
	return User{
		ID:           id,
		Username:     username,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Roles:        []string{"warehouse_admin"},
		Attrs:        map[string]string{"office": "head", "dept": "ops"},
		Disabled:     true,
		CreatedAt:    base,
		UpdatedAt:    base.Add(time.Minute),
	}
}

func fullKey(kid string, created time.Time) SigningKey {
	return SigningKey{
		KID:           kid,
		Alg:           "ES256",
		Use:           "access",
		PrivateSealed: []byte("sealed-" + kid),
		PublicJWK:     []byte(`{"kty":"EC","kid":"` + kid + `"}`),
		CreatedAt:     created,
		ActivatedAt:   created.Add(time.Hour),
		RetiredAt:     created.Add(48 * time.Hour),
	}
}

func fullToken(name, kind, clientID, subject, grantID string) Token {
	return Token{
		Digest:    digest(name),
		Kind:      kind,
		Format:    FormatOpaque,
		JTI:       "jti-" + name,
		ClientID:  clientID,
		Subject:   subject,
		Scope:     "openid list_items",
		Audience:  []string{"https://api.example/warehouse", "https://api.example/other"},
		Claims:    []byte(`{"roles":["warehouse_admin"]}`),
		Payload:   "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9",
		GrantID:   grantID,
		AuthTime:  base.Add(-time.Minute),
		IssuedAt:  base,
		ExpiresAt: base.Add(time.Hour),
	}
}

func fullCode(name, clientID, subject, grantID string) AuthCode {
	return AuthCode{
		Digest:              digest(name),
		ClientID:            clientID,
		Subject:             subject,
		RedirectURI:         "https://app.example/cb",
		Scope:               "openid list_items",
		Audience:            []string{"https://api.example/warehouse"},
		Nonce:               "n-0S6_WzA2Mj",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		GrantID:             grantID,
		AuthTime:            base.Add(-time.Minute),
		ExpiresAt:           base.Add(time.Minute),
		DPoPJKT:             "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
	}
}

// mustNil fails the test on an unexpected error.
func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr fails unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func recordTests() []contractTest {
	ctx := context.Background()
	return []contractTest{
		{"ClientCRUD", func(t *testing.T, db *DB) {
			c := fullClient("svc")
			mustNil(t, "CreateClient", db.CreateClient(ctx, c))
			wantErr(t, "CreateClient again", db.CreateClient(ctx, c), ErrConflict)

			got, err := db.GetClient(ctx, "svc")
			mustNil(t, "GetClient", err)
			if diff := cmp.Diff(c, got); diff != "" {
				t.Errorf("GetClient mismatch (-want +got):\n%s", diff)
			}

			c.Name = "renamed"
			c.Scopes = []string{"openid"}
			c.SecretDigest = nil
			c.CanIntrospect = false
			c.AccessTokenTTL = 0
			c.PostLogoutRedirectURIs = []string{"https://app.example/signed-out"}
			c.UpdatedAt = base.Add(time.Hour)
			mustNil(t, "UpdateClient", db.UpdateClient(ctx, c))
			got, err = db.GetClient(ctx, "svc")
			mustNil(t, "GetClient after update", err)
			if diff := cmp.Diff(c, got); diff != "" {
				t.Errorf("GetClient after update mismatch (-want +got):\n%s", diff)
			}

			wantErr(t, "UpdateClient missing", db.UpdateClient(ctx, fullClient("nope")), ErrNotFound)
			_, err = db.GetClient(ctx, "nope")
			wantErr(t, "GetClient missing", err, ErrNotFound)
			mustNil(t, "DeleteClient", db.DeleteClient(ctx, "svc"))
			wantErr(t, "DeleteClient again", db.DeleteClient(ctx, "svc"), ErrNotFound)
			_, err = db.GetClient(ctx, "svc")
			wantErr(t, "GetClient deleted", err, ErrNotFound)
		}},
		{"ListClientsOrderedByID", func(t *testing.T, db *DB) {
			got, err := db.ListClients(ctx)
			mustNil(t, "ListClients empty", err)
			if len(got) != 0 {
				t.Fatalf("ListClients on empty store = %d clients, want 0", len(got))
			}
			for _, id := range []string{"spa", "gateway", "svc"} {
				mustNil(t, "CreateClient "+id, db.CreateClient(ctx, fullClient(id)))
			}
			got, err = db.ListClients(ctx)
			mustNil(t, "ListClients", err)
			want := []Client{fullClient("gateway"), fullClient("spa"), fullClient("svc")}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ListClients mismatch (-want +got):\n%s", diff)
			}
		}},
		{"UserCRUD", func(t *testing.T, db *DB) {
			u := fullUser("u-alice", "alice")
			mustNil(t, "CreateUser", db.CreateUser(ctx, u))
			wantErr(t, "CreateUser same id", db.CreateUser(ctx, fullUser("u-alice", "alice2")), ErrConflict)
			wantErr(t, "CreateUser same username", db.CreateUser(ctx, fullUser("u-other", "alice")), ErrConflict)

			got, err := db.GetUser(ctx, "u-alice")
			mustNil(t, "GetUser", err)
			if diff := cmp.Diff(u, got); diff != "" {
				t.Errorf("GetUser mismatch (-want +got):\n%s", diff)
			}
			got, err = db.GetUserByUsername(ctx, "alice")
			mustNil(t, "GetUserByUsername", err)
			if diff := cmp.Diff(u, got); diff != "" {
				t.Errorf("GetUserByUsername mismatch (-want +got):\n%s", diff)
			}

			mustNil(t, "CreateUser bob", db.CreateUser(ctx, fullUser("u-bob", "bob")))
			taken := fullUser("u-bob", "alice")
			wantErr(t, "UpdateUser onto taken username", db.UpdateUser(ctx, taken), ErrConflict)

			u.Username = "alice.smith"
			u.Roles = nil
			u.Attrs = map[string]string{"office": "regional"}
			u.Disabled = false
			mustNil(t, "UpdateUser", db.UpdateUser(ctx, u))
			got, err = db.GetUserByUsername(ctx, "alice.smith")
			mustNil(t, "GetUserByUsername after rename", err)
			if diff := cmp.Diff(u, got); diff != "" {
				t.Errorf("user after update mismatch (-want +got):\n%s", diff)
			}
			_, err = db.GetUserByUsername(ctx, "alice")
			wantErr(t, "GetUserByUsername old name", err, ErrNotFound)
			wantErr(t, "UpdateUser missing", db.UpdateUser(ctx, fullUser("u-nope", "nope")), ErrNotFound)

			mustNil(t, "DeleteUser", db.DeleteUser(ctx, "u-alice"))
			wantErr(t, "DeleteUser again", db.DeleteUser(ctx, "u-alice"), ErrNotFound)
			_, err = db.GetUser(ctx, "u-alice")
			wantErr(t, "GetUser deleted", err, ErrNotFound)
		}},
		{"ListUsersOrderedByUsername", func(t *testing.T, db *DB) {
			// Ids sort the other way round, so the order must come from
			// the username.
			mustNil(t, "CreateUser", db.CreateUser(ctx, fullUser("3", "alice")))
			mustNil(t, "CreateUser", db.CreateUser(ctx, fullUser("1", "carol")))
			mustNil(t, "CreateUser", db.CreateUser(ctx, fullUser("2", "bob")))
			got, err := db.ListUsers(ctx)
			mustNil(t, "ListUsers", err)
			want := []User{fullUser("3", "alice"), fullUser("2", "bob"), fullUser("1", "carol")}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ListUsers mismatch (-want +got):\n%s", diff)
			}
		}},
		{"SigningKeys", func(t *testing.T, db *DB) {
			k2 := fullKey("k2", base.Add(time.Hour))
			k1 := fullKey("k1", base)
			k3 := fullKey("k3", base.Add(2*time.Hour))
			k3.ActivatedAt, k3.RetiredAt = time.Time{}, time.Time{} // the next key
			for _, k := range []SigningKey{k2, k3, k1} {
				mustNil(t, "CreateKey "+k.KID, db.CreateKey(ctx, k))
			}
			wantErr(t, "CreateKey again", db.CreateKey(ctx, k1), ErrConflict)

			got, err := db.ListKeys(ctx)
			mustNil(t, "ListKeys", err)
			if diff := cmp.Diff([]SigningKey{k1, k2, k3}, got); diff != "" {
				t.Errorf("ListKeys mismatch (-want +got):\n%s", diff)
			}

			// UpdateKey changes the timestamps and nothing else.
			upd := k3
			upd.ActivatedAt = base.Add(3 * time.Hour)
			upd.Alg = "RS256"
			upd.PrivateSealed = []byte("other")
			mustNil(t, "UpdateKey", db.UpdateKey(ctx, upd))
			want := k3
			want.ActivatedAt = upd.ActivatedAt
			got, err = db.ListKeys(ctx)
			mustNil(t, "ListKeys after update", err)
			if diff := cmp.Diff(want, got[2]); diff != "" {
				t.Errorf("key after UpdateKey mismatch (-want +got):\n%s", diff)
			}
			wantErr(t, "UpdateKey missing", db.UpdateKey(ctx, fullKey("nope", base)), ErrNotFound)

			mustNil(t, "DeleteKey", db.DeleteKey(ctx, "k1"))
			wantErr(t, "DeleteKey again", db.DeleteKey(ctx, "k1"), ErrNotFound)
			got, err = db.ListKeys(ctx)
			mustNil(t, "ListKeys after delete", err)
			if len(got) != 2 {
				t.Errorf("ListKeys after delete = %d keys, want 2", len(got))
			}
		}},
		{"Sessions", func(t *testing.T, db *DB) {
			s := Session{Digest: digest("cookie"), Subject: "u-alice", AuthTime: base, ExpiresAt: base.Add(8 * time.Hour)}
			mustNil(t, "CreateSession", db.CreateSession(ctx, s))
			wantErr(t, "CreateSession again", db.CreateSession(ctx, s), ErrConflict)
			got, err := db.GetSession(ctx, s.Digest)
			mustNil(t, "GetSession", err)
			if diff := cmp.Diff(s, got); diff != "" {
				t.Errorf("GetSession mismatch (-want +got):\n%s", diff)
			}
			mustNil(t, "DeleteSession", db.DeleteSession(ctx, s.Digest))
			mustNil(t, "DeleteSession absent", db.DeleteSession(ctx, s.Digest))
			_, err = db.GetSession(ctx, s.Digest)
			wantErr(t, "GetSession deleted", err, ErrNotFound)
		}},
		{"Consents", func(t *testing.T, db *DB) {
			_, err := db.GetConsent(ctx, "u-alice", "spa")
			wantErr(t, "GetConsent missing", err, ErrNotFound)
			c := Consent{Subject: "u-alice", ClientID: "spa", Scopes: []string{"openid", "list_items"}, GrantedAt: base}
			mustNil(t, "SaveConsent", db.SaveConsent(ctx, c))
			got, err := db.GetConsent(ctx, "u-alice", "spa")
			mustNil(t, "GetConsent", err)
			if diff := cmp.Diff(c, got); diff != "" {
				t.Errorf("GetConsent mismatch (-want +got):\n%s", diff)
			}
			c.Scopes = []string{"openid", "list_items", "order_item"}
			c.GrantedAt = base.Add(time.Hour)
			mustNil(t, "SaveConsent replace", db.SaveConsent(ctx, c))
			got, err = db.GetConsent(ctx, "u-alice", "spa")
			mustNil(t, "GetConsent after replace", err)
			if diff := cmp.Diff(c, got); diff != "" {
				t.Errorf("GetConsent after replace mismatch (-want +got):\n%s", diff)
			}
			_, err = db.GetConsent(ctx, "u-bob", "spa")
			wantErr(t, "GetConsent other subject", err, ErrNotFound)
		}},
		{"ZeroAndEmptyValuesRoundTrip", func(t *testing.T, db *DB) {
			// nil stays nil and empty stays empty: callers compare with
			// cmp, which tells them apart.
			nilClient := Client{ID: "bare"}
			emptyClient := Client{ID: "empty", SecretDigest: []byte{}, GrantTypes: []string{},
				RedirectURIs: []string{}, PostLogoutRedirectURIs: []string{}, Scopes: []string{}, Audience: []string{}, JWKS: []byte{}}
			for _, c := range []Client{nilClient, emptyClient} {
				mustNil(t, "CreateClient "+c.ID, db.CreateClient(ctx, c))
				got, err := db.GetClient(ctx, c.ID)
				mustNil(t, "GetClient "+c.ID, err)
				if diff := cmp.Diff(c, got); diff != "" {
					t.Errorf("client %s mismatch (-want +got):\n%s", c.ID, diff)
				}
				if !got.CreatedAt.IsZero() {
					t.Errorf("client %s CreatedAt = %v, want zero time", c.ID, got.CreatedAt)
				}
			}
			users := []User{
				{ID: "u1", Username: "nil"},
				{ID: "u2", Username: "empty", Roles: []string{}, Attrs: map[string]string{}},
			}
			for _, u := range users {
				mustNil(t, "CreateUser "+u.ID, db.CreateUser(ctx, u))
				got, err := db.GetUser(ctx, u.ID)
				mustNil(t, "GetUser "+u.ID, err)
				if diff := cmp.Diff(u, got); diff != "" {
					t.Errorf("user %s mismatch (-want +got):\n%s", u.ID, diff)
				}
			}
			tok := Token{Digest: digest("bare"), Kind: KindAccess, ExpiresAt: base}
			mustNil(t, "CreateToken bare", db.CreateToken(ctx, tok))
			got, err := db.GetToken(ctx, tok.Digest)
			mustNil(t, "GetToken bare", err)
			if diff := cmp.Diff(tok, got); diff != "" {
				t.Errorf("bare token mismatch (-want +got):\n%s", diff)
			}
		}},
		{"TimesRoundTripInUTC", func(t *testing.T, db *DB) {
			// The Unix epoch is a real time, not "unset".
			for i, ts := range []time.Time{
				base,
				time.Unix(0, 0),
				time.Unix(0, 1),
				time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond),
				time.Date(2262, 1, 1, 0, 0, 0, 999999999, time.UTC),
			} {
				id := fmt.Sprintf("c%d", i)
				c := Client{ID: id, CreatedAt: ts}
				mustNil(t, "CreateClient", db.CreateClient(ctx, c))
				got, err := db.GetClient(ctx, id)
				mustNil(t, "GetClient", err)
				if !got.CreatedAt.Equal(ts) || got.CreatedAt.Location() != time.UTC {
					t.Errorf("CreatedAt %v came back as %v, want the same instant in UTC", ts, got.CreatedAt)
				}
			}
		}},
		{"MigrateTwice", func(t *testing.T, db *DB) {
			mustNil(t, "CreateClient", db.CreateClient(ctx, fullClient("svc")))
			mustNil(t, "Migrate again", db.Migrate(ctx))
			mustNil(t, "Migrate a third time", db.Migrate(ctx))
			if _, err := db.GetClient(ctx, "svc"); err != nil {
				t.Errorf("GetClient after re-migrating: %v", err)
			}
			mustNil(t, "Ping", db.Ping(ctx))
		}},
	}
}
