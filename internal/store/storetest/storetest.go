// Package storetest gives tests of the store and of the packages above it
// a PostgreSQL schema of their own, so runs in parallel and after each
// other never see each other's rows.
//
// It is for tests only: it must never be imported by non-test code.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the variable holding the DSN of the PostgreSQL server
// the tests use; without it they skip and say so.
const PostgresEnv = "PORTCULLIS_TEST_POSTGRES"

// FreshSchema creates a uniquely named schema on the server of dsn, drops
// it when the test ends, and returns dsn with its search_path pointing at
// the schema.
func FreshSchema(t testing.TB, dsn string) string {
	t.Helper()
	ctx := context.Background()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := pgx.Identifier{"portcullis_test_" + hex.EncodeToString(b[:])}.Sanitize()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresEnv, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("connect to drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema[1:len(schema)-1])
	u.RawQuery = q.Encode()
	return u.String()
}
