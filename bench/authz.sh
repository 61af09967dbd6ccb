#!/usr/bin/env bash
# Load harness for the authorization server: client-credentials issuance
# (opaque and JWT) and introspection, each measured with wrk on loopback
# against `portcullis demo` (embedded SQLite), next to a minimal Go handler
# measured in the same run. Prints req/s, p50/p99 and the ratio to the
# baseline. Bounded: every wrk run lasts DURATION; everything stops at exit.
#
#   bench/authz.sh                 # 10 s per run, 64 connections
#   DURATION=5s CONNS=32 bench/authz.sh
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
AUTHZ=127.0.0.1:18080
ADMIN=127.0.0.1:18081
BASE=127.0.0.1:18090

cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "wrk not found; installing it from Debian" >&2
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null || { echo "cannot install wrk" >&2; exit 1; }
fi
command -v python3 >/dev/null || { echo "python3 is needed to read demo.json" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/portcullis" ./cmd/portcullis
go build -o "$work/baseline" ./bench/baseline

"$work/baseline" -addr "$BASE" & pids+=($!)
"$work/portcullis" demo --data "$work/data" --authz-addr "$AUTHZ" --admin-addr "$ADMIN" >"$work/demo.out" 2>"$work/demo.err" & pids+=($!)
for _ in $(seq 100); do
  curl -fs "http://$ADMIN/readyz" >/dev/null 2>&1 && curl -fs "http://$BASE/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://$ADMIN/readyz" >/dev/null || { echo "portcullis did not become ready:" >&2; cat "$work/demo.err" >&2; exit 1; }

secret() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([c for c in d["clients"] if c["client_id"]==sys.argv[2]][0]["client_secret"])' "$work/data/demo.json" "$1"; }
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$(secret "$1")" | base64 -w0)"; }

# run NAME URL AUTH BODY → one result line; sets LAST_RPS.
run() {
  local out rps p50 p99 errs
  out=$(AUTH="$3" BODY="$4" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/post.lua "$2")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/^errors/ {print $2}' <<<"$out")
  LAST_RPS=$rps
  printf '%-34s %10s req/s  p50 %-9s p99 %-9s errors %s' "$1" "$rps" "$p50" "$p99" "$errs"
}
ratio() { python3 -c "print(f'{float($1)/float($2):.2f}')"; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, wrk -t$THREADS -c$CONNS -d$DURATION, loopback"
run "baseline (minimal Go handler)" "http://$BASE/" "" "x"; echo; base_rps=$LAST_RPS
cc="grant_type=client_credentials&scope=list_items"
run "client_credentials opaque" "http://$AUTHZ/oauth2/token" "$(basic warehouse-service-opaque)" "$cc"
echo "  ratio $(ratio "$LAST_RPS" "$base_rps")"
run "client_credentials jwt" "http://$AUTHZ/oauth2/token" "$(basic warehouse-service)" "$cc"
echo "  ratio $(ratio "$LAST_RPS" "$base_rps")"
tok=$(curl -fs -u "warehouse-service-opaque:$(secret warehouse-service-opaque)" -d "$cc" "http://$AUTHZ/oauth2/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
run "introspection (json)" "http://$AUTHZ/oauth2/introspect" "$(basic gateway)" "token=$tok"
echo "  ratio $(ratio "$LAST_RPS" "$base_rps")"
export ACCEPT=application/jwt
run "introspection (phantom JWT)" "http://$AUTHZ/oauth2/introspect" "$(basic gateway)" "token=$tok"
echo "  ratio $(ratio "$LAST_RPS" "$base_rps")"
unset ACCEPT
run "baseline again" "http://$BASE/" "" "x"; echo
