#!/usr/bin/env bash
# Starts web, the Celery workers and beat through honcho, after printing where to look.
set -euo pipefail
port="${PORT:-8000}"
cat <<MSG

  PostgreSQL Reviewer is starting.
    Admin:    http://127.0.0.1:${port}/admin/      (create a user: .venv/bin/python manage.py createsuperuser)
    API:      curl http://127.0.0.1:${port}/api/v1/monitoring/connections/status -H "Authorization: Token <key>"
    Schema:   http://127.0.0.1:${port}/api/v1/schema/
  Database: ${DATABASE_URL:-SQLite (db.sqlite3)}   Broker: ${REDIS_URL:-redis://127.0.0.1:6379/0}
  Stop with Ctrl-C.

MSG
exec .venv/bin/honcho start -f Procfile
