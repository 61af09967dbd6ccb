-- wrk script: GET with "Authorization: DPoP $TOKEN" and a fresh DPoP
-- proof per request, read from the file $PROOFS (bench/dpopproofs writes
-- it, one proof a line). Thread k of $THREADS takes every THREADS-th line
-- from line k, so no two threads send the same proof. A thread that runs
-- out starts over; the gateway then refuses the replayed proofs, which
-- shows as non-2xx answers: the harness reports them rather than hide a
-- shortfall of proofs.
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local threads = tonumber(os.getenv("THREADS"))
  proofs = {}
  local i = 0
  for line in io.lines(os.getenv("PROOFS")) do
    if i % threads == id then
      proofs[#proofs + 1] = line
    end
    i = i + 1
  end
  cursor = 0
  auth = "DPoP " .. os.getenv("TOKEN")
end

function request()
  cursor = cursor % #proofs + 1
  return wrk.format(nil, nil, {["Authorization"] = auth, ["DPoP"] = proofs[cursor]})
end
