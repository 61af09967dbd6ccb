package store

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn  string
		want dsnConfig
	}{
		{"postgres://u:p@db:5432/portcullis?sslmode=verify-full",
			dsnConfig{dialect: dialectPostgres, postgres: "postgres://u:p@db:5432/portcullis?sslmode=verify-full"}},
		{"postgresql://db/portcullis", dsnConfig{dialect: dialectPostgres, postgres: "postgresql://db/portcullis"}},
		{"POSTGRES://db/portcullis", dsnConfig{dialect: dialectPostgres, postgres: "POSTGRES://db/portcullis"}},
		{":memory:", dsnConfig{dialect: dialectSQLite, memory: true}},
		{"sqlite::memory:", dsnConfig{dialect: dialectSQLite, memory: true}},
		{"sqlite:/var/lib/portcullis/db.sqlite", dsnConfig{dialect: dialectSQLite, path: "/var/lib/portcullis/db.sqlite"}},
		{"sqlite:///var/lib/portcullis/db.sqlite", dsnConfig{dialect: dialectSQLite, path: "/var/lib/portcullis/db.sqlite"}},
		{"sqlite:data/db.sqlite", dsnConfig{dialect: dialectSQLite, path: "data/db.sqlite"}},
		{"data/portcullis.db", dsnConfig{dialect: dialectSQLite, path: "data/portcullis.db"}},
		{"/tmp/odd?name#.db", dsnConfig{dialect: dialectSQLite, path: "/tmp/odd?name#.db"}},
		{"file:/tmp/x.db", dsnConfig{dialect: dialectSQLite, path: "/tmp/x.db", params: url.Values{}}},
		{"file:///tmp/x%20y.db?cache=private", dsnConfig{dialect: dialectSQLite, path: "/tmp/x y.db",
			params: url.Values{"cache": {"private"}}}},
		{"file://localhost/tmp/x.db", dsnConfig{dialect: dialectSQLite, path: "/tmp/x.db", params: url.Values{}}},
		{"file::memory:?cache=shared", dsnConfig{dialect: dialectSQLite, memory: true,
			params: url.Values{"cache": {"shared"}}}},
		{"file:x.db?mode=memory", dsnConfig{dialect: dialectSQLite, memory: true,
			params: url.Values{"mode": {"memory"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.dsn, func(t *testing.T) {
			got, err := parseDSN(tc.dsn)
			if err != nil {
				t.Fatalf("parseDSN: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(dsnConfig{})); diff != "" {
				t.Errorf("parseDSN mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDSNRefuses(t *testing.T) {
	for _, dsn := range []string{
		"",
		"sqlite:",
		"file:",
		"file:?mode=rwc",
		"mysql://u:secret@db/x",
		"redis://db:6379",
		"file://evil.example/etc/x.db",
		"file:/tmp/%zz.db",
		"data\x00.db",
	} {
		t.Run(dsn, func(t *testing.T) {
			_, err := parseDSN(dsn)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parseDSN(%q): got %v, want ErrInvalid", dsn, err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q repeats the dsn's password", err)
			}
		})
	}
}

// FuzzParseDSN checks parseDSN never panics, and that the SQLite URI it
// builds names the same file it parsed (escaping round-trips).
func FuzzParseDSN(f *testing.F) {
	for _, seed := range []string{
		"postgres://u:p@h/db", ":memory:", "sqlite:/a/b.db", "file:/a%3fb.db?cache=private",
		"data/x.db", "file::memory:", "/tmp/a?b#c%d.db",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		cfg, err := parseDSN(dsn)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parseDSN(%q) error %v is not ErrInvalid", dsn, err)
			}
			return
		}
		if cfg.dialect != dialectSQLite || cfg.memory {
			return
		}
		built := cfg.sqliteDSN([]string{sqliteBusyTimeout}, nil)
		back, err := parseDSN(built)
		if err != nil {
			t.Fatalf("parseDSN(%q) of the built uri: %v", built, err)
		}
		if back.path != cfg.path {
			t.Fatalf("path %q became %q through %q", cfg.path, back.path, built)
		}
	})
}
