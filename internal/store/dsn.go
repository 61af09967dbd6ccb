package store

import (
	"net/url"
	"strings"
)

// Dialect names, as returned by (*DB).Dialect.
const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

// dsnConfig is a DSN after Open has decided what it means.
type dsnConfig struct {
	dialect string
	// postgres is the DSN handed to pgxpool unchanged.
	postgres string
	// path is the SQLite file path ("" for an in-memory database).
	path string
	// params are the SQLite URI parameters the caller gave with a "file:"
	// DSN; ours are added to them.
	params url.Values
	// memory is set for ":memory:" and mode=memory.
	memory bool
}

// parseDSN tells the dialect from dsn. It never puts the DSN in an error:
// a PostgreSQL DSN may carry a password.
func parseDSN(dsn string) (dsnConfig, error) {
	lower := strings.ToLower(dsn)
	switch {
	case dsn == "":
		return dsnConfig{}, invalid("empty dsn")
	case strings.IndexByte(dsn, 0) >= 0:
		// SQLite would cut the file name at the NUL.
		return dsnConfig{}, invalid("dsn contains a NUL byte")
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return dsnConfig{dialect: dialectPostgres, postgres: dsn}, nil
	case dsn == ":memory:":
		return dsnConfig{dialect: dialectSQLite, memory: true}, nil
	case strings.HasPrefix(lower, "sqlite:"):
		path := dsn[len("sqlite:"):]
		// Accept the URL-like sqlite:///abs/path and sqlite://rel/path too.
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return dsnConfig{}, invalid("sqlite dsn has no path")
		}
		if path == ":memory:" {
			return dsnConfig{dialect: dialectSQLite, memory: true}, nil
		}
		return dsnConfig{dialect: dialectSQLite, path: path}, nil
	case strings.HasPrefix(lower, "file:"):
		return parseFileURI(dsn)
	case strings.Contains(dsn, "://"):
		// Some other scheme (mysql://, redis://): refuse it rather than
		// create a SQLite file with that odd name.
		return dsnConfig{}, invalid("unsupported dsn scheme")
	default:
		return dsnConfig{dialect: dialectSQLite, path: dsn}, nil
	}
}

// parseFileURI reads a SQLite URI filename (https://sqlite.org/uri.html):
// file:PATH?param=value. Percent-escapes in PATH are decoded.
func parseFileURI(dsn string) (dsnConfig, error) {
	rest := dsn[len("file:"):]
	rawPath, rawQuery, _ := strings.Cut(rest, "?")
	rawPath, _, _ = strings.Cut(rawPath, "#")
	// file://host/path: SQLite accepts only an empty host or "localhost".
	if strings.HasPrefix(rawPath, "//") {
		host, p, _ := strings.Cut(rawPath[2:], "/")
		if host != "" && host != "localhost" {
			return dsnConfig{}, invalid("sqlite file uri names a remote host")
		}
		rawPath = "/" + p
	}
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return dsnConfig{}, invalid("sqlite file uri has a bad escape")
	}
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return dsnConfig{}, invalid("sqlite file uri has bad parameters")
	}
	if strings.IndexByte(path, 0) >= 0 {
		// An escaped NUL (%00) would cut the file name short.
		return dsnConfig{}, invalid("dsn contains a NUL byte")
	}
	cfg := dsnConfig{dialect: dialectSQLite, path: path, params: params}
	if path == ":memory:" || params.Get("mode") == "memory" {
		cfg.memory = true
		cfg.path = ""
	} else if path == "" {
		return dsnConfig{}, invalid("sqlite dsn has no path")
	}
	return cfg, nil
}

// sqliteDSN builds the modernc.org/sqlite DSN for one pool: a file URI with
// the caller's parameters and ours. Pragmas go in the DSN (_pragma=...)
// because database/sql opens connections on its own; a pragma run once
// after Open would reach only the first connection.
func (c dsnConfig) sqliteDSN(pragmas []string, extra url.Values) string {
	q := url.Values{}
	for k, v := range c.params {
		q[k] = append([]string(nil), v...)
	}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	for k, v := range extra {
		q[k] = append(q[k], v...)
	}
	if c.memory {
		// A private in-memory database lives as long as its one
		// connection; Open gives it a single pool for that reason.
		return ":memory:?" + q.Encode()
	}
	// An absolute path gets an empty authority ("file:///abs"), or a path
	// starting "//" would be read as naming a host.
	prefix := "file:"
	if strings.HasPrefix(c.path, "/") {
		prefix = "file://"
	}
	return prefix + escapeURIPath(c.path) + "?" + q.Encode()
}

// escapeURIPath escapes what SQLite's URI parser would otherwise take as
// syntax: '%', '?' and '#'.
func escapeURIPath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// setsPoolSize reports whether a PostgreSQL DSN sets pool_max_conns itself.
// An unparsable DSN reports false; pgxpool then refuses it with its own,
// password-free error.
func setsPoolSize(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil {
		return false
	}
	return u.Query().Has("pool_max_conns")
}
