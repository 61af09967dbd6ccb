package store

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// benchToken is a realistic opaque access token row: a split token's
// payload and a claims object make it about 600 bytes.
func benchToken(n uint64) Token {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	tok := fullToken(hex.EncodeToString(b[:]), KindAccess, "spa", "u-alice", "grant")
	tok.Payload = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0." +
		"eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZSIsInN1YiI6ImFsaWNlIiwiYXVkIjoid2FyZWhvdXNlIiwic2NvcGUiOiJsaXN0X2l0ZW1zIiwiZXhwIjoxNzAwMDAwMDAwfQ"
	tok.ExpiresAt = time.Now().Add(time.Hour)
	return tok
}

func benchDB(b *testing.B) *DB {
	b.Helper()
	return openMigrated(b, filepath.Join(b.TempDir(), "bench.db"))
}

// benchDialects opens a fresh database of each dialect: SQLite in a temp
// file, and PostgreSQL in a fresh schema when PORTCULLIS_TEST_POSTGRES is
// set (with the DSN's own pool size, or pool_max_conns=N when
// PORTCULLIS_BENCH_POOL=N, for measuring pool sizes).
var benchDialects = []struct {
	name string
	open func(b *testing.B) *DB
}{
	{"sqlite", benchDB},
	{"postgres", func(b *testing.B) *DB {
		dsn := freshSchema(b, postgresDSN(b))
		if n := os.Getenv("PORTCULLIS_BENCH_POOL"); n != "" {
			dsn += "&pool_max_conns=" + n
		}
		return openMigrated(b, dsn)
	}},
}

// BenchmarkCreateToken measures the token endpoint's insert on both
// dialects; every insert is committed before CreateToken returns.
// callers=GOMAXPROCS is b.RunParallel's default; callers=16×GOMAXPROCS
// and 32×GOMAXPROCS are closer to a token endpoint under load (bench/authz.sh
// runs 64 connections), with many requests in flight, where group commit
// pays off.
func BenchmarkCreateToken(b *testing.B) {
	for _, d := range benchDialects {
		b.Run("dialect="+d.name, func(b *testing.B) {
			for _, parallelism := range []int{1, 16, 32} {
				b.Run(fmt.Sprintf("callers=%d", parallelism*runtime.GOMAXPROCS(0)), func(b *testing.B) {
					benchCreateToken(b, d.open(b), parallelism)
				})
			}
		})
	}
}

func benchCreateToken(b *testing.B, db *DB, parallelism int) {
	ctx := context.Background()
	var seq atomic.Uint64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.CreateToken(ctx, benchToken(seq.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
	reportCPU(b, cpu0)
}

// BenchmarkGetToken measures introspection's lookup by digest over a table
// of 100,000 tokens, on both dialects, with GOMAXPROCS callers and with
// 64 per core (cold lookups of a loaded endpoint: with enough callers the
// PostgreSQL pool size shows).
func BenchmarkGetToken(b *testing.B) {
	const rows = 100_000
	for _, d := range benchDialects {
		b.Run("dialect="+d.name, func(b *testing.B) {
			db := d.open(b)
			loadTokens(b, db, rows)
			digests := make([][]byte, rows)
			for i := range digests {
				digests[i] = benchToken(uint64(i)).Digest
			}
			// The sub-benchmark runs many times with growing b.N; the
			// table is loaded once, here.
			for _, parallelism := range []int{1, 32} {
				name := fmt.Sprintf("rows=%d/callers=%d", rows, parallelism*runtime.GOMAXPROCS(0))
				b.Run(name, func(b *testing.B) {
					b.SetParallelism(parallelism)
					benchGetToken(b, db, digests)
				})
			}
		})
	}
}

// loadTokens inserts rows tokens through one transaction: a hundred
// thousand commits would take longer than the benchmark.
func loadTokens(b *testing.B, db *DB, rows int) {
	b.Helper()
	ctx := context.Background()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.PrepareContext(ctx, db.text(qCreateToken))
	if err != nil {
		b.Fatal(err)
	}
	for i := range uint64(rows) {
		t := benchToken(i)
		_, err := stmt.ExecContext(ctx,
			t.Digest, t.Kind, t.Format, t.JTI, t.ClientID, t.Subject, t.Scope,
			listArg(t.Audience), bytesArg(t.Claims), t.Payload, t.GrantID,
			timeArg(t.AuthTime), timeArg(t.IssuedAt), t.ExpiresAt.UnixNano(),
			timeArg(t.UsedAt), t.Revoked)
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

func benchGetToken(b *testing.B, db *DB, digests [][]byte) {
	ctx := context.Background()
	rows := uint64(len(digests))
	var seq atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// A multiplicative stride scatters lookups over the table.
			i := seq.Add(1) * 7919 % rows
			if _, err := db.GetToken(ctx, digests[i]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	reportCPU(b, cpu0)
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU time per operation since cpu0. Wall-clock rates
// on a machine shared with other work understate what the code can do;
// CPU time per operation does not, and 2 cores / cpu-µs/op bounds the
// rate an idle 2-core machine would reach.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	used := processCPU() - cpu0
	b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/op")
}
