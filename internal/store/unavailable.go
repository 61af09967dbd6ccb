package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err says the database could not be
// reached or dropped the connection, rather than refusing the statement:
// a refused or reset connection, a connection closed under a query, a
// timeout, or PostgreSQL's connection-exception and shutdown codes
// (class 08; 57P01 admin_shutdown, as pg_terminate_backend sends, 57P02
// crash_shutdown, 57P03 cannot_connect_now). Callers answer such an
// error "try again later" (503) instead of treating it as a bug, since
// the same request succeeds once the database is back.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &ce), errors.As(err, &ne):
		return true
	case errors.As(err, &pe):
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}
