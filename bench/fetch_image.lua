-- wrk script for bench/fetch_one.py and bench/wado_orthanc.py: every request the same, POST of a §2.8 (or §2.7)
-- body, or a GET.
--
-- Arguments (after `--`): BODY RUN [HEADER...]
--   BODY    a file holding the JSON body to POST (a query's msgid is not remembered: one body serves every
--           request), or "-" for a GET of the URL (Orthanc's REST download, WADO-RS)
--   RUN     unused (bench/http_save_exam.py's run_wrk passes it)
--   HEADER  "Name: value", sent with every request (WADO-RS: Accept, Authorization)
-- There is no response(): with one, wrk hands every 0.7 MB answer to Lua, and wrk's own CPU would decide the
-- rate. The answers are checked once before the runs (MD5 of the decoded file); wrk counts non-2xx itself.
-- done() prints one machine-readable line starting with "BENCH " (the fields run_wrk reads).

function init(args)
  if args[1] ~= "-" then
    local file = assert(io.open(args[1], "rb"))
    wrk.body = file:read("*a")
    file:close()
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  end
  for i = 3, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d not_success=0 connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout, e.status))
end
