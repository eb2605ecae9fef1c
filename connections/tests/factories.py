"""factory_boy factories for connections."""

from __future__ import annotations

import factory

from connections.models import Connection


class ConnectionFactory(factory.django.DjangoModelFactory):
    """By default the machine's own PostgreSQL, which trusts local connections."""

    class Meta:
        model = Connection

    name = factory.Sequence(lambda n: f"Database {n}")
    host = "127.0.0.1"
    port = 5432
    database = "postgres"
    username = "postgres"
    connect_timeout = 3
