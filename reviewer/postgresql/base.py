"""Django's PostgreSQL backend, whose per-request connection health check needs no round trip.

The web process keeps each thread's connection to the application database for
DATABASE_CONN_MAX_AGE, and checks it before its first use in a request
(CONN_HEALTH_CHECKS), so that a connection the server closed meanwhile (a restart, a
failover, an idle timeout, pg_terminate_backend) is replaced instead of failing the request.
Django checks with a `SELECT 1`: a round trip to the server on every request.

A server that closes a connection says so on its socket: the backend's last words (FATAL:
terminating connection…) and then the end of the stream, both of which make an idle socket
readable. A connection whose socket has nothing to read has been told nothing since its last
query, so it is kept without asking the server. Anything readable on an idle connection is
unexpected: then, and only then, Django's own `SELECT 1` decides.

What this cannot see is a server that vanished without a word (a host powered off, a network
cut): no check can tell that before a query times out, and Django's SELECT 1 would have hung
the same way.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        try:
            poller = select.poll()
            poller.register(self.connection.fileno(), select.POLLIN)
            quiet = not poller.poll(0)
        except (OSError, ValueError):
            return False
        return quiet or super().is_usable()
