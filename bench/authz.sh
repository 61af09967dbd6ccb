#!/usr/bin/env bash
# Load harness for the authorization server: client-credentials issuance
# (opaque and JWT) and introspection, each measured with wrk on loopback
# against `portcullis serve`, once on SQLite (a file in a temp directory)
# and once on PostgreSQL (a fresh database this script creates and drops),
# next to a minimal Go handler measured in the same run. Prints req/s,
# p50/p99 and the ratio to the baseline. Bounded: every wrk run lasts
# DURATION; everything stops at exit.
#
#   bench/authz.sh                 # 10 s per run, 64 connections
#   DURATION=5s CONNS=32 bench/authz.sh
#   PORTCULLIS_BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable bench/authz.sh
#
# PORTCULLIS_BENCH_POSTGRES (or PORTCULLIS_TEST_POSTGRES) names a server
# and a database to connect to for CREATE DATABASE; without either, the
# PostgreSQL rows are skipped. PG_DSN_PARAMS adds DSN parameters to the
# benchmark database's DSN (PG_DSN_PARAMS=pool_max_conns=32).
# STORES=postgres measures one store only. PORTCULLIS_BIN uses a prebuilt
# binary instead of building ./cmd/portcullis.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
AUTHZ=127.0.0.1:18080
ADMIN=127.0.0.1:18081
GATEWAY=127.0.0.1:18082
BASE=127.0.0.1:18090
PG_SERVER=${PORTCULLIS_BENCH_POSTGRES:-${PORTCULLIS_TEST_POSTGRES:-}}
STORES=${STORES:-sqlite postgres}

cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "wrk not found; installing it from Debian" >&2
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null || { echo "cannot install wrk" >&2; exit 1; }
fi
command -v python3 >/dev/null || { echo "python3 is needed to read JSON" >&2; exit 1; }
if [[ -n $PG_SERVER ]] && ! command -v psql >/dev/null; then
  echo "psql not found: skipping the PostgreSQL rows" >&2
  PG_SERVER=
fi

work=$(mktemp -d)
pids=()
pgdb=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n $pgdb ]]; then
    psql -q "$PG_SERVER" -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null || echo "could not drop database $pgdb" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -n ${PORTCULLIS_BIN:-} ]]; then
  cp "$PORTCULLIS_BIN" "$work/portcullis"
else
  go build -o "$work/portcullis" ./cmd/portcullis
fi
go build -o "$work/baseline" ./bench/baseline
PORTCULLIS_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0)
export PORTCULLIS_MASTER_KEY

"$work/baseline" -addr "$BASE" & pids+=($!)
for _ in $(seq 100); do curl -fs "http://$BASE/" >/dev/null 2>&1 && break; sleep 0.1; done

# run NAME URL AUTH BODY → one result line; sets LAST_RPS.
run() {
  local out rps p50 p99 errs
  out=$(AUTH="$3" BODY="$4" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/post.lua "$2")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/^errors/ {print $2}' <<<"$out")
  LAST_RPS=$rps
  printf '%-44s %10s req/s  p50 %-9s p99 %-9s errors %s' "$1" "$rps" "$p50" "$p99" "$errs"
}
ratio() { python3 -c "print(f'{float($1)/float($2):.2f}')"; }
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }
secret_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])'; }

# measure STORE DSN: serve with the database at DSN and measure issuance
# and introspection; the server stops before it returns.
measure() {
  local store=$1 dsn=$2 dir="$work/${1%% *}"
  mkdir -p "$dir"
  cat >"$dir/portcullis.yaml" <<YAML
issuer: http://$AUTHZ
listen: {authz: "$AUTHZ", admin: "$ADMIN", gateway: "$GATEWAY"}
data_dir: $dir/data
store: {dsn: "$dsn"}
log: {format: json, level: warn}
YAML
  local p="$work/portcullis" c=(--config "$dir/portcullis.yaml") gw opaque jwt
  "$p" migrate "${c[@]}" >/dev/null
  gw=$("$p" clients create "${c[@]}" --id gateway --grant-type client_credentials --introspect --json | secret_of)
  opaque=$("$p" clients create "${c[@]}" --id svc-opaque --grant-type client_credentials --scope list_items --format opaque --json | secret_of)
  jwt=$("$p" clients create "${c[@]}" --id svc-jwt --grant-type client_credentials --scope list_items --format jwt --json | secret_of)

  "$p" serve "${c[@]}" 2>"$dir/serve.log" & local pid=$!
  for _ in $(seq 150); do curl -fs "http://$ADMIN/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs "http://$ADMIN/readyz" >/dev/null || { echo "portcullis ($store) did not become ready:" >&2; tail -20 "$dir/serve.log" >&2; exit 1; }

  local cc="grant_type=client_credentials&scope=list_items" tok
  run "$store: client_credentials opaque" "http://$AUTHZ/oauth2/token" "$(basic svc-opaque "$opaque")" "$cc"
  echo "  ratio $(ratio "$LAST_RPS" "$base_rps")"
  run "$store: client_credentials jwt" "http://$AUTHZ/oauth2/token" "$(basic svc-jwt "$jwt")" "$cc"
  echo "  ratio $(ratio "$LAST_RPS" "$base_rps")"
  tok=$(curl -fs -u "svc-opaque:$opaque" -d "$cc" "http://$AUTHZ/oauth2/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  run "$store: introspection (json)" "http://$AUTHZ/oauth2/introspect" "$(basic gateway "$gw")" "token=$tok"
  echo "  ratio $(ratio "$LAST_RPS" "$base_rps")"
  export ACCEPT=application/jwt
  run "$store: introspection (phantom JWT)" "http://$AUTHZ/oauth2/introspect" "$(basic gateway "$gw")" "token=$tok"
  echo "  ratio $(ratio "$LAST_RPS" "$base_rps")"
  unset ACCEPT

  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, wrk -t$THREADS -c$CONNS -d$DURATION, loopback"
run "baseline (minimal Go handler)" "http://$BASE/" "" "x"; echo; base_rps=$LAST_RPS
if [[ " $STORES " == *" sqlite "* ]]; then
  measure sqlite "$work/sqlite/data/portcullis.db"
fi
if [[ " $STORES " != *" postgres "* ]]; then
  :
elif [[ -n $PG_SERVER ]]; then
  pgdb="portcullis_bench_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  psql -q "$PG_SERVER" -c "CREATE DATABASE $pgdb" >/dev/null
  # The benchmark database on the same server: swap the path of the URL.
  pgdsn=$(python3 - "$PG_SERVER" "$pgdb" "${PG_DSN_PARAMS:-}" <<'PY'
import sys, urllib.parse as u
url, db, extra = sys.argv[1], sys.argv[2], sys.argv[3]
p = u.urlsplit(url)
q = "&".join(x for x in (p.query, extra) if x)
print(u.urlunsplit((p.scheme, p.netloc, "/" + db, q, "")))
PY
)
  measure "postgres${PG_DSN_PARAMS:+ ($PG_DSN_PARAMS)}" "$pgdsn"
else
  echo "(PostgreSQL rows skipped: set PORTCULLIS_BENCH_POSTGRES=postgres://... to measure them)"
fi
run "baseline again" "http://$BASE/" "" "x"; echo
