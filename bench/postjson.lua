-- wrk script: POST the JSON document in $BODY with the Authorization
-- header in $AUTH (the protected route of bench/gateway.sh).
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("AUTH")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

-- Count non-2xx answers so a run of refusals is never reported as
-- throughput.
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("errors %d\n", bad))
end
