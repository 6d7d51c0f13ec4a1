-- wrk sends a fixed list of requests, each once: bench/service_throughput.py (`--client wrk`).
--
--   wrk -t T -c C --timeout 30s -s bench/wrk_jobs.lua URL -- JOBS_FILE T
--
-- JOBS_FILE has one request per line: METHOD <tab> PATH <tab> AUTHORIZATION <tab> JSON BODY (or nothing).
-- Thread i (0-based) sends lines i, i + T, i + 2T, ...; when its share is sent, a connection sends nothing
-- more, and the thread stops when every one of its requests has been answered, saying so on stderr. wrk
-- itself runs for its whole -d: the bench interrupts it (SIGINT) when every thread has said so, and wrk's
-- duration is then the phase's wall time. done() prints one line of JSON: answered requests, wall time,
-- failures, and every latency with how often it occurred (wrk keeps latencies in microseconds), so that the
-- bench computes percentiles over several phases together.

local threads = {}
local started = 0

function setup(thread)
  thread:set("index", started)
  started = started + 1
  table.insert(threads, thread)
end

local requests = {}
local sent = 0
local answered = 0
-- wrk calls request() once in the first thread, before any connection, to check what it returns.
local checking = false

function init(args)
  local share, n = tonumber(args[2]), 0
  for line in io.lines(args[1]) do
    if n % share == index then
      local method, path, authorization, body = line:match("^(%u+)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = { ["Authorization"] = authorization }
      if body == "" then
        body = nil
      else
        headers["Content-Type"] = "application/json"
      end
      requests[#requests + 1] = wrk.format(method, path, headers, body)
    end
    n = n + 1
  end
  checking = index == 0
  if #requests == 0 then
    finished()
  end
end

function finished()
  io.stderr:write("WRK_THREAD_DONE\n")
  io.stderr:flush()
  wrk.thread:stop()
end

function request()
  if checking then
    checking = false
    return requests[1]
  end
  sent = sent + 1
  -- nil once the share is sent: wrk writes an empty request, and the connection waits, idle.
  return requests[sent]
end

function response(status, headers, body)
  answered = answered + 1
  if answered == #requests then
    finished()
  end
end

function done(summary, latency, requests_per_thread)
  local counts = {}
  for i = 1, #latency do
    local value, count = latency(i)
    counts[#counts + 1] = string.format("[%d,%d]", value, count)
  end
  local errors = summary.errors
  io.write(string.format(
    '\nWRK_RESULT {"requests": %d, "duration_us": %d, "non_2xx": %d, "connect": %d, "read": %d, '
      .. '"write": %d, "timeout": %d, "latency_us": [%s]}\n',
    summary.requests, summary.duration, errors.status, errors.connect, errors.read, errors.write,
    errors.timeout, table.concat(counts, ",")
  ))
end
