#!/usr/bin/env bash
# Starts web, the Celery workers and beat through honcho, after printing where to look.
set -euo pipefail
port="${PORT:-8000}"

# A URL as it may be printed: the password (scheme://user:PASSWORD@host) replaced by ****.
masked() { sed -E 's#^([a-zA-Z0-9+.-]+://[^:/@]*:)[^@]*@#\1****@#' <<<"$1"; }

cat <<MSG

  PostgreSQL Reviewer is starting.
    Admin:    http://127.0.0.1:${port}/admin/      (create a user: DJANGO_DEBUG=true .venv/bin/python manage.py createsuperuser)
    API:      curl http://127.0.0.1:${port}/api/v1/monitoring/connections/status -H "Authorization: Token <key>"
    Schema:   http://127.0.0.1:${port}/api/v1/schema/
    API docs: http://127.0.0.1:${port}/api/v1/docs/
  Database: $(masked "${DATABASE_URL:-SQLite (db.sqlite3)}")   Broker: $(masked "${REDIS_URL:-redis://127.0.0.1:6379/0}")
  Stop with Ctrl-C.

MSG
# Beat keeps its schedule in the state directory (REVIEWER_STATE_DIR, default var/ here).
mkdir -p "${REVIEWER_STATE_DIR:-var}"
exec .venv/bin/honcho start -f Procfile
