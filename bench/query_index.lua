-- wrk script for bench/query_index.py: POST queryExamRpotImgIndxListFHospital (§2.6) for a different person
-- in every request, spread over all the persons the benchmark loaded, with a new msgid each time.
--
-- Arguments (after `--`): TEMPLATE RUN PERSONS
--   TEMPLATE  the §2.6 body as compact JSON with @MSGID@ and @CERTNO@ (in that order)
--   RUN       a small number distinct for every wrk invocation against the same server
--   PERSONS   how many persons were loaded; person p has certno "5201" .. p (13 digits) .. "1"
-- response() counts non-2xx answers and 2xx answers whose code is not 0 or whose data holds no record.
-- done() prints one machine-readable line starting with "BENCH " (the fields bench/http_save_exam.py reads).

local BASE = 946684800 -- 2000-01-01 00:00:00 UTC
local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_number", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local pre, mid, post
local run, persons = 0, 1
local counter = 0
non2xx = 0
not_success = 0
statuses = ""

function init(args)
  run = tonumber(args[2] or "0")
  persons = tonumber(args[3] or "1")
  local file = assert(io.open(args[1], "rb"))
  local template = file:read("*a")
  file:close()
  local a, b = string.find(template, "@MSGID@", 1, true)
  local c, d = string.find(template, "@CERTNO@", 1, true)
  assert(a and c and b < c, "template must hold @MSGID@ then @CERTNO@")
  pre, mid, post = string.sub(template, 1, a - 1), string.sub(template, b + 1, c - 1), string.sub(template, d + 1)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local u = run * 100000000 + thread_number * 10000000 + counter
  counter = counter + 1
  -- a multiplicative walk over the persons: consecutive requests ask for persons far apart (no cache luck)
  local p = (u * 7919 + thread_number * 104729) % persons
  local msgid = "H52030200193" .. os.date("!%Y%m%d%H%M%S", BASE + math.floor(u / 10000)) .. string.format("%04d", u % 10000)
  local certno = "5201" .. string.format("%013d", p) .. "1"
  return wrk.format(nil, nil, nil, pre .. msgid .. mid .. certno .. post)
end

local seen = {}

local function example(label, body)
  local text = string.gsub(string.sub(body or "", 1, 300), "[\r\n]", " ")
  statuses = statuses .. label .. ":" .. text .. "|"
end

function response(status, headers, body)
  if status >= 200 and status <= 299 then
    if not (string.find(body or "", '"code":%s*0[,}]') and string.find(body or "", '"hiImgIndx"', 1, true)) then
      not_success = not_success + 1
      if not seen[-1] then
        seen[-1] = true
        example("2xx-not-found", body)
      end
    end
  else
    non2xx = non2xx + 1
    if not seen[status] then
      seen[status] = true
      example(tostring(status), body)
    end
  end
end

function done(summary, latency, requests)
  local non2xx_total, not_success_total, examples = 0, 0, ""
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + (thread:get("non2xx") or 0)
    not_success_total = not_success_total + (thread:get("not_success") or 0)
    examples = examples .. (thread:get("statuses") or "")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d not_success=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, non2xx_total, not_success_total, e.connect, e.read, e.write, e.timeout, e.status))
  if examples ~= "" then
    io.write("BENCH-NON2XX " .. examples .. "\n")
  end
end
