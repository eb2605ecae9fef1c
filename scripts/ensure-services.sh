#!/usr/bin/env bash
# Starts PostgreSQL (when DATABASE_URL points at it) and Redis if nothing listens on their
# ports. Never stops or changes a server that is already running.
set -euo pipefail

redis_url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
redis_hostport="${redis_url#redis://}"; redis_hostport="${redis_hostport%%/*}"; redis_hostport="${redis_hostport##*@}"
redis_host="${redis_hostport%%:*}"; redis_port="${redis_hostport##*:}"
[ "$redis_port" = "$redis_host" ] && redis_port=6379

if ! (exec 3<>"/dev/tcp/$redis_host/$redis_port") 2>/dev/null; then
  echo "Starting redis-server on $redis_host:$redis_port"
  mkdir -p /tmp/reviewer-redis
  redis-server --daemonize yes --bind "$redis_host" --port "$redis_port" --save "" --appendonly no \
    --dir /tmp/reviewer-redis --logfile /tmp/reviewer-redis/redis.log
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/$redis_host/$redis_port") 2>/dev/null && break; sleep 0.1; done
fi

case "${DATABASE_URL:-}" in
  postgres*://*)
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
      echo "Starting PostgreSQL"
      if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql/*/main >/dev/null 2>&1; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
      else
        echo "No PostgreSQL cluster to start: install postgresql or set DATABASE_URL" >&2
        exit 1
      fi
      for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
    fi
    ;;
esac
