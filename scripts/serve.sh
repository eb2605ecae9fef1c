#!/usr/bin/env bash
# The production web process: collects the static files into the state directory, then runs
# gunicorn, whose WhiteNoise middleware serves them at /static/. No other web server is needed
# (a TLS-terminating proxy in front is still the usual set-up).
#
# Environment (all optional; the Django settings are read from the environment as usual):
#   WEB_BIND      address to listen on                  default 127.0.0.1:${PORT:-8000}
#   WEB_WORKERS   gunicorn worker processes             default 2
#   WEB_THREADS   threads per worker process            default 4
#   WEB_TIMEOUT   seconds before a silent worker is restarted, and the graceful stop's bound
#                                                       default 60
set -euo pipefail
cd "$(dirname "$0")/.."

# A relative state directory would depend on the caller's directory: the settings refuse it.
mkdir -p "${REVIEWER_STATE_DIR:-$PWD/var}"
.venv/bin/python manage.py collectstatic --noinput --verbosity 0

# gthread workers: a thread blocked on a slow database check (up to that connection's
# connect_timeout) neither holds a whole process nor gets its worker killed by --timeout,
# which only watches the worker's main loop. Each thread keeps at most one database
# connection (DATABASE_CONN_MAX_AGE), so the service holds at most WORKERS x THREADS.
exec .venv/bin/gunicorn reviewer.wsgi:application \
  --bind "${WEB_BIND:-127.0.0.1:${PORT:-8000}}" \
  --worker-class gthread \
  --workers "${WEB_WORKERS:-2}" \
  --threads "${WEB_THREADS:-4}" \
  --timeout "${WEB_TIMEOUT:-60}" \
  --graceful-timeout "${WEB_TIMEOUT:-60}" \
  --keep-alive 5 \
  --access-logfile - \
  --error-logfile -
