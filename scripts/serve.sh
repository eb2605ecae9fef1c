#!/usr/bin/env bash
# The production web process: collects the static files into the state directory, then runs
# granian, whose WhiteNoise middleware serves them at /static/. No other web server is needed
# (a TLS-terminating proxy in front is still the usual set-up).
#
# Why granian and not gunicorn: under the load bench (bench/load.py: 200 monitoring scripts
# polling the API), gunicorn's gthread workers spent about a quarter of the web CPU on HTTP
# parsing, their thread pool and the access log, all in Python. granian does that part in
# Rust and hands Django the same WSGI calls.
#
# Environment (all optional; the Django settings are read from the environment as usual):
#   WEB_BIND      address to listen on, HOST:PORT or [IPv6]:PORT
#                                                       default 127.0.0.1:${PORT:-8000}
#   WEB_WORKERS   worker processes                      default 2
#   WEB_THREADS   threads per worker process            default 4
#   WEB_TIMEOUT   seconds a stop or a reload (SIGHUP) waits for a worker's requests to
#                 finish before the worker is killed    default 60
#   WEB_ACCESS_LOG  true: a line per request on stdout  default true
set -euo pipefail
cd "$(dirname "$0")/.."

bind="${WEB_BIND:-127.0.0.1:${PORT:-8000}}"
host="${bind%:*}"
port="${bind##*:}"
host="${host#[}"
host="${host%]}"
if [[ -z "$host" || ! "$port" =~ ^[0-9]+$ ]]; then
  echo "serve.sh: WEB_BIND must be HOST:PORT or [IPv6]:PORT, not '$bind'" >&2
  exit 2
fi
case "${WEB_ACCESS_LOG:-true}" in
  true) access_log=(--access-log) ;;
  false) access_log=(--no-access-log) ;;
  *)
    echo "serve.sh: WEB_ACCESS_LOG must be true or false, not '${WEB_ACCESS_LOG}'" >&2
    exit 2
    ;;
esac

# A relative state directory would depend on the caller's directory: the settings refuse it.
mkdir -p "${REVIEWER_STATE_DIR:-$PWD/var}"
.venv/bin/python manage.py collectstatic --noinput --verbosity 0

# Threads: a thread blocked on a slow database check (up to that connection's connect_timeout)
# holds one thread, not a whole process. Each thread keeps at most one database connection
# (DATABASE_CONN_MAX_AGE), so the service holds at most WORKERS x THREADS.
# A worker that dies is started again; SIGHUP restarts the workers one by one (a reload).
# The access log (WEB_ACCESS_LOG) goes to stdout, a line per request with its query string and
# user agent.
#
# granian runs in its own process group, and this script hands it SIGTERM, SIGINT and SIGHUP:
# when a stop signal reached its workers too (Ctrl-C in a terminal, a kill of the whole process
# group) as well as its main process, a worker could hang in its shutdown and the server
# never exit. Its main process alone stops the workers cleanly.
set -m
.venv/bin/granian reviewer.wsgi:application \
  --interface wsgi \
  --host "$host" \
  --port "$port" \
  --workers "${WEB_WORKERS:-2}" \
  --blocking-threads "${WEB_THREADS:-4}" \
  --workers-kill-timeout "${WEB_TIMEOUT:-60}" \
  --respawn-failed-workers \
  --no-ws \
  "${access_log[@]}" \
  --access-log-fmt '%(addr)s [%(time)s] "%(method)s %(path)s?%(query_string)s %(protocol)s" %(status)d %(dt_ms).1fms "%(header{user-agent})s"' &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true' TERM INT
trap 'kill -HUP "$server" 2>/dev/null || true' HUP
# `wait` returns early when a trapped signal arrives: wait until granian itself has exited,
# and exit with its status.
while true; do
  wait "$server" && status=0 || status=$?
  kill -0 "$server" 2>/dev/null || break
done
exit "$status"
