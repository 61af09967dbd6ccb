#!/usr/bin/env bash
# Load harness for the gateway: the same upstream reached directly, through
# a plain httputil.ReverseProxy (bench/plainproxy) and through the Portcullis
# gateway with a JWT access token, a warm phantom (opaque) token and a warm
# split token. Prints req/s, p50/p99, the ratio gateway / plain proxy and the
# p99 the gateway adds. Loopback only; every wrk run lasts DURATION.
#
#   bench/gateway.sh                    # 10 s per run, 64 connections
#   DURATION=5s CONNS=64 bench/gateway.sh
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
UP=127.0.0.1:18090
PLAIN=127.0.0.1:18091
POOLED=127.0.0.1:18092
GW=127.0.0.1:18100
AUTHZ=127.0.0.1:18180
ADMIN=127.0.0.1:18181

cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  echo "wrk not found; installing it from Debian" >&2
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null || { echo "cannot install wrk" >&2; exit 1; }
fi
command -v python3 >/dev/null || { echo "python3 is needed to read JSON" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/portcullis" ./cmd/portcullis
go build -o "$work/upstream" ./bench/baseline
go build -o "$work/plainproxy" ./bench/plainproxy
PORTCULLIS_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0)
export PORTCULLIS_MASTER_KEY

cat >"$work/portcullis.yaml" <<YAML
issuer: http://$AUTHZ
listen: {authz: "$AUTHZ", admin: "$ADMIN", gateway: "$GW"}
data_dir: $work/data
tokens: {default_audience: "urn:portcullis:api:bench"}
log: {format: json, level: ${LOG_LEVEL:-info}}
# The warehouse-style plan (a daily quota and a burst rate) with bounds high
# enough that the load never hits them: the run measures what checking costs.
ratelimit:
  backend: memory
  plans:
    gold:
      - {name: gold-daily, quota: 1000000000/day, key: [client_id]}
      - {name: gold-burst, rate: 1000000/s, burst: 1000000, key: [client_id]}
  client_plans: {svc-limited: gold}
gateway:
  issuers:
    - issuer: http://$AUTHZ
      client_id: gateway-bench
      client_secret_file: $work/gateway.secret
  apis:
    - name: bench
      base_path: /bench
      upstream: http://$UP
      audiences: ["urn:portcullis:api:bench"]
      operations:
        - {method: GET, path: /items, scopes: [list_items]}
YAML

p="$work/portcullis"; c=(--config "$work/portcullis.yaml")
"$p" migrate "${c[@]}" >/dev/null
secret_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])'; }
"$p" clients create "${c[@]}" --id gateway-bench --grant-type client_credentials --introspect --json | secret_of >"$work/gateway.secret"
chmod 600 "$work/gateway.secret"
declare -A secret
for f in jwt opaque split; do
  secret[$f]=$("$p" clients create "${c[@]}" --id "svc-$f" --grant-type client_credentials --scope list_items --format "$f" --json | secret_of)
done
secret[limited]=$("$p" clients create "${c[@]}" --id svc-limited --grant-type client_credentials --scope list_items --format jwt --json | secret_of)

"$work/upstream" -addr "$UP" & pids+=($!)
"$work/plainproxy" -addr "$PLAIN" -upstream "http://$UP" & pids+=($!)
"$work/plainproxy" -addr "$POOLED" -upstream "http://$UP" -pool & pids+=($!)
"$p" serve "${c[@]}" 2>"$work/serve.log" & pids+=($!)
for _ in $(seq 150); do curl -fs "http://$ADMIN/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://$ADMIN/readyz" >/dev/null || { echo "portcullis did not become ready:" >&2; tail -20 "$work/serve.log" >&2; exit 1; }

token() { curl -fs -u "svc-$1:${secret[$1]}" -d grant_type=client_credentials "http://$AUTHZ/oauth2/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'; }
declare -A tok
for f in jwt opaque split limited; do
  tok[$f]=$(token "$f")
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${tok[$f]}" "http://$GW/bench/items")
  [[ $code == 200 ]] || { echo "gateway refused the $f token ($code)" >&2; tail -5 "$work/serve.log" >&2; exit 1; }
done

# run NAME URL [AUTH] → one line; sets RPS and P99 (ms).
run() {
  local out args=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --latency)
  [[ -n ${3:-} ]] && args+=(-H "Authorization: Bearer $3")
  out=$(wrk "${args[@]}" "$2")
  RPS=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  local p50 p99 non2xx
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  P99=$(python3 -c "v='$p99'; print(float(v[:-2])/1000 if v.endswith('us') else float(v[:-2]) if v.endswith('ms') else float(v[:-1])*1000)")
  printf '%-34s %10s req/s  p50 %-9s p99 %-9s non-2xx %s' "$1" "$RPS" "$p50" "$p99" "${non2xx:-0}"
}
cmp() { python3 -c "print(f'  ratio {float($1)/float($2):.2f}  added p99 {float($3)-float($4):+.2f} ms')"; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, wrk -t$THREADS -c$CONNS -d$DURATION, loopback; gateway log level ${LOG_LEVEL:-info}"
run "upstream direct" "http://$UP/bench/items"; echo
run "plain ReverseProxy (default)" "http://$PLAIN/bench/items"; echo
# The yardstick: a plain proxy with the same transport and, like the
# gateway, pooled copy buffers. Ratios are against it.
run "plain ReverseProxy (pooled)" "http://$POOLED/bench/items"; echo; plain=$RPS; plain99=$P99
run "gateway, JWT" "http://$GW/bench/items" "${tok[jwt]}"; cmp "$RPS" "$plain" "$P99" "$plain99"
run "gateway, phantom (warm)" "http://$GW/bench/items" "${tok[opaque]}"; cmp "$RPS" "$plain" "$P99" "$plain99"
run "gateway, split (warm)" "http://$GW/bench/items" "${tok[split]}"; cmp "$RPS" "$plain" "$P99" "$plain99"
run "gateway, JWT + rate limits" "http://$GW/bench/items" "${tok[limited]}"; cmp "$RPS" "$plain" "$P99" "$plain99"
run "plain ReverseProxy (pooled) again" "http://$POOLED/bench/items"; echo
