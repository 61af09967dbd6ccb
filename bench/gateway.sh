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
go build -o "$work/dpopproofs" ./bench/dpopproofs
PORTCULLIS_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0)
PORTCULLIS_BENCH_FIELD_KEY=$(head -c 32 /dev/urandom | base64 -w0)
export PORTCULLIS_MASTER_KEY PORTCULLIS_BENCH_FIELD_KEY

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
    # The protected route: a 2 KB JSON order checked against its schema and
    # by the CRS at paranoia 1, and a 2 KB JSON answer filtered and
    # rewritten by claims. /lite/orders is the same without the WAF.
    - name: protected
      base_path: /prot
      upstream: http://$UP
      audiences: ["urn:portcullis:api:bench"]
      validation: {mode: enforce}
      waf: {mode: block, paranoia: 1}
      operations:
        - &protected
          method: POST
          path: /orders
          scopes: [list_items]
          validation:
            body_required: true
            request_schema:
              type: object
              required: [item_id, quantity, lines]
              properties:
                item_id: {type: string, maxLength: 64}
                quantity: {type: integer, minimum: 1}
                customer:
                  type: object
                  properties: {name: {type: string}, email: {type: string, format: email}}
                lines:
                  type: array
                  maxItems: 100
                  items:
                    type: object
                    required: [sku, qty]
                    properties: {sku: {type: string}, qty: {type: integer}, note: {type: string, maxLength: 500}}
                notes: {type: string, maxLength: 2000}
          response:
            filter: 'element.doctor_id == "D-1" || "admin" in claims.scope.split(" ")'
            filter_path: '\$.patients[*]'
            fields:
              - {select: '\$.patients[*].diagnosis', action: remove, unless: '"diagnosis" in claims.scope.split(" ")'}
              - {select: '\$.patients[*].ssn', action: encrypt, key_env: PORTCULLIS_BENCH_FIELD_KEY}
        - <<: *protected
          path: /lite/orders
          waf: {off: true}
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
secret[dpop]=$("$p" clients create "${c[@]}" --id svc-dpop --grant-type client_credentials --scope list_items --format jwt --json | secret_of)

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

# report NAME WRK_OUTPUT → one line; sets RPS and P99 (ms).
report() {
  local p50 p99 non2xx
  RPS=$(awk '/^Requests\/sec:/ {print $2}' <<<"$2")
  p50=$(awk '$1=="50%" {print $2}' <<<"$2")
  p99=$(awk '$1=="99%" {print $2}' <<<"$2")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$2")
  P99=$(python3 -c "v='$p99'; print(float(v[:-2])/1000 if v.endswith('us') else float(v[:-2]) if v.endswith('ms') else float(v[:-1])*1000)")
  printf '%-34s %10s req/s  p50 %-9s p99 %-9s non-2xx %s' "$1" "$RPS" "$p50" "$p99" "${non2xx:-0}"
}
# run NAME URL [AUTH] → one line; sets RPS and P99 (ms).
run() {
  local args=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --latency)
  [[ -n ${3:-} ]] && args+=(-H "Authorization: Bearer $3")
  report "$1" "$(wrk "${args[@]}" "$2")"
}
# rundpop NAME URL: run with "Authorization: DPoP" and a fresh proof per
# request from $work/proofs (bench/dpop.lua).
rundpop() {
  report "$1" "$(PROOFS="$work/proofs" TOKEN="$dpoptok" THREADS="$THREADS" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/dpop.lua "$2")"
}
# runpost NAME URL [AUTH]: run with a 2 KB JSON order POSTed (bench/postjson.lua).
ORDER=$(python3 -c '
import json
lines=[]
while len(json.dumps(lines)) < 1750:
    lines.append({"sku":"box-large","qty":2,"note":"Please select the best option, drop by tomorrow"})
print(json.dumps({"item_id":"SKU-10042","quantity":3,"customer":{"name":"Siobhan O\u0027Brien","email":"orders@example.com"},"lines":lines,"notes":"Leave it with reception."}))')
runpost() {
  local out args=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s bench/postjson.lua)
  out=$(BODY="$ORDER" AUTH="${3:+Bearer $3}" wrk "${args[@]}" "$2")
  RPS=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  local p50 p99 bad
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '$1=="errors" {print $2}' <<<"$out")
  P99=$(python3 -c "v='$p99'; print(float(v[:-2])/1000 if v.endswith('us') else float(v[:-2]) if v.endswith('ms') else float(v[:-1])*1000)")
  printf '%-34s %10s req/s  p50 %-9s p99 %-9s errors %s' "$1" "$RPS" "$p50" "$p99" "${bad:-?}"
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

# The protected route (issue: validation + CRS paranoia 1 + field rules at
# >= 0.6x the plain proxy carrying the same POST).
code=$(curl -s -o "$work/prot.json" -w '%{http_code}' -H "Authorization: Bearer ${tok[jwt]}" -H 'Content-Type: application/json' -d "$ORDER" "http://$GW/prot/orders")
[[ $code == 200 ]] || { echo "gateway refused the protected order ($code): $(head -c 300 "$work/prot.json")" >&2; tail -5 "$work/serve.log" >&2; exit 1; }
runpost "plain ReverseProxy (pooled), POST 2 KB" "http://$POOLED/prot/orders"; echo; plainpost=$RPS; plainpost99=$P99
runpost "gateway, validation + field rules" "http://$GW/prot/lite/orders" "${tok[jwt]}"; cmp "$RPS" "$plainpost" "$P99" "$plainpost99"
runpost "gateway, validation + CRS + fields" "http://$GW/prot/orders" "${tok[jwt]}"; cmp "$RPS" "$plainpost" "$P99" "$plainpost99"

# DPoP (RFC 9449): a bound JWT with a fresh proof per request, signed
# beforehand (bench/dpopproofs) and good for a minute, so they are signed
# right before the two runs that use them. The yardstick is the plain
# proxy carrying the same two headers. Set DPOP_PROOFS above the requests
# one run makes; a shortfall shows as non-2xx (replayed proofs).
secs=${DURATION%s}
[[ $secs =~ ^[0-9]+$ ]] || secs=60
DPOP_PROOFS=${DPOP_PROOFS:-$((secs * 20000))}
dpoptok=$(DPOP_CLIENT_SECRET=${secret[dpop]} "$work/dpopproofs" -token-url "http://$AUTHZ/oauth2/token" -client-id svc-dpop -htu "http://$GW/bench/items" -n "$DPOP_PROOFS" -out "$work/proofs")
rundpop "plain ReverseProxy (pooled), DPoP hdrs" "http://$POOLED/bench/items"; echo; plaindpop=$RPS; plaindpop99=$P99
rundpop "gateway, JWT + DPoP proof" "http://$GW/bench/items"; cmp "$RPS" "$plaindpop" "$P99" "$plaindpop99"
