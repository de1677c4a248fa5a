-- wrk script for bench/http_save_exam.py: POST saveExamRpotImgInfo with a NEW msgid and a NEW hiImgIndx
-- in every request, so that mie really writes each time and never answers from its replay table.
--
-- Arguments (after `--`): TEMPLATE RUN
--   TEMPLATE  file holding the §2.1 example body as compact JSON, with @MSGID@ and @INDX@ in place of
--             the msgid and the hiImgIndx (in that order)
--   RUN       a small number distinct for every wrk invocation against the same server (warm-up and
--             each measurement), so that no two invocations ever send the same msgid or index
--
-- Uniqueness: every request gets the integer u = RUN*1e8 + THREAD*1e7 + COUNTER (COUNTER counts per
-- thread, THREAD is set by setup() below). Then
--   msgid     = "H11010202321" .. yyyyMMddHHmmss(BASE + floor(u/10000)) .. (u % 10000, 4 digits)  (30 chars)
--   hiImgIndx = "111-110101197804050038-" .. yyyyMMddHHmmss(BASE + u) .. "-0000000000000-000000000"
-- both distinct for distinct u, and the index's time is always a real date-time (UTC calendar).
-- response() counts non-2xx answers and 2xx answers without succFlag "1" (the first of each kind is kept
-- as an example). At the end, done() prints one machine-readable line starting with "BENCH ".

local BASE = 946684800 -- 2000-01-01 00:00:00 UTC
local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_number", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local pre, mid, post
local run = 0
local counter = 0
non2xx = 0
not_success = 0
statuses = ""

function init(args)
  local path = args[1]
  run = tonumber(args[2] or "0")
  local file = assert(io.open(path, "rb"))
  local template = file:read("*a")
  file:close()
  local a, b = string.find(template, "@MSGID@", 1, true)
  local c, d = string.find(template, "@INDX@", 1, true)
  assert(a and c and b < c, "template must hold @MSGID@ then @INDX@")
  pre = string.sub(template, 1, a - 1)
  mid = string.sub(template, b + 1, c - 1)
  post = string.sub(template, d + 1)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local u = run * 100000000 + thread_number * 10000000 + counter
  counter = counter + 1
  local msgid = "H11010202321" .. os.date("!%Y%m%d%H%M%S", BASE + math.floor(u / 10000)) .. string.format("%04d", u % 10000)
  local indx = "111-110101197804050038-" .. os.date("!%Y%m%d%H%M%S", BASE + u) .. "-0000000000000-000000000"
  return wrk.format(nil, nil, nil, pre .. msgid .. mid .. indx .. post)
end

local seen = {}

local function example(label, body)
  local text = string.gsub(string.sub(body or "", 1, 300), "[\r\n]", " ")
  statuses = statuses .. label .. ":" .. text .. "|"
end

function response(status, headers, body)
  if status >= 200 and status <= 299 then
    if not string.find(body or "", '"succFlag":%s*"1"') then
      not_success = not_success + 1
      if not seen[-1] then
        seen[-1] = true
        example("2xx-not-success", body)
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
  local non2xx_total = 0
  local not_success_total = 0
  local examples = ""
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
