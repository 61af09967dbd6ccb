package store

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portcullis.db")
	for dsn, want := range map[string]string{path: path, "sqlite:" + path: path, ":memory:": ":memory:"} {
		db, err := Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := db.Location(); got != want {
			t.Errorf("Location() of %q = %q, want %q", dsn, got, want)
		}
		db.Close()
	}
}

func TestPostgresLocationHidesCredentials(t *testing.T) {
	u, err := url.Parse(postgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	// The test server trusts loopback, so any password connects.
	u.User = url.UserPassword(u.User.Username(), "hunter2-not-shown")
	db, err := Open(context.Background(), u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	loc := db.Location()
	if strings.Contains(loc, "hunter2") || strings.Contains(loc, u.User.Username()+"@") {
		t.Errorf("Location() = %q names the DSN's credentials", loc)
	}
	if want := u.Hostname() + ":" + u.Port() + u.Path; loc != want {
		t.Errorf("Location() = %q, want %q", loc, want)
	}
}
