-- wrk script: POST the form in $BODY with the Authorization header in $AUTH.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local auth = os.getenv("AUTH")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
local accept = os.getenv("ACCEPT")
if accept ~= nil and accept ~= "" then
  wrk.headers["Accept"] = accept
end

-- Count non-2xx answers so a run of errors is never reported as throughput.
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("errors %d\n", bad))
end
