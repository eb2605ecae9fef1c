"""Probe outcomes against real servers: healthy, wrong password, refused, black-holed,
missing database, frozen after the handshake."""

from __future__ import annotations

import re
import socket
import struct
import threading
import time

import psycopg

from connections.probe import probe
from connections.tests.factories import ConnectionFactory
from testing.network import free_port
from testing.wait import wait_for

# A hang is a bug, a slow CI is not: bounds are the timeout plus a generous margin.
MARGIN_SECONDS = 13


def test_it_reports_a_healthy_server_with_its_short_version():
    result = probe(ConnectionFactory.build())

    assert result.is_healthy
    assert re.fullmatch(r"\d+\.\d+", result.server_version)
    assert isinstance(result.response_time_ms, int) and result.response_time_ms >= 0
    assert result.error_message is None


def test_it_reports_a_wrong_password_as_libpq_words_it(scram_cluster, login_role, monkeypatch):
    name, _ = login_role
    monkeypatch.setenv("PGPASSWORD", "not-the-password")
    connection = ConnectionFactory.build(port=scram_cluster.port, username=name)

    result = probe(connection)

    assert not result.is_healthy
    assert result.error_message == f'FATAL: password authentication failed for user "{name}"'
    assert "not-the-password" not in result.error_message
    assert result.server_version is None


def test_it_reports_a_refused_port():
    port = free_port()

    result = probe(ConnectionFactory.build(port=port))

    assert not result.is_healthy
    assert result.error_message == f'connection to server at "127.0.0.1", port {port} failed: Connection refused'


def test_it_returns_from_a_black_holed_host_within_the_connect_timeout(blackhole):
    started = time.monotonic()

    result = probe(ConnectionFactory.build(port=blackhole.port, connect_timeout=2))

    assert time.monotonic() - started < 2 + MARGIN_SECONDS
    assert not result.is_healthy
    assert result.error_message == "connection timeout expired"


def test_it_reports_a_missing_database():
    result = probe(ConnectionFactory.build(database="nosuch"))

    assert not result.is_healthy
    assert result.error_message == 'FATAL: database "nosuch" does not exist'


def test_it_passes_sslmode_to_libpq(scram_cluster, login_role, monkeypatch):
    name, password = login_role
    monkeypatch.setenv("PGPASSWORD", password)
    connection = ConnectionFactory.build(port=scram_cluster.port, username=name, sslmode="require")

    result = probe(connection)

    assert not result.is_healthy
    assert "server does not support SSL, but SSL was required" in result.error_message
    assert "\n" not in result.error_message


def test_it_gives_up_on_a_server_that_freezes_after_the_handshake():
    proxy = FreezingProxy(upstream_port=5432)
    try:
        connection = ConnectionFactory.build(port=proxy.port, connect_timeout=2, sslmode="disable")
        started = time.monotonic()

        result = probe(connection)

        assert time.monotonic() - started < 2 + MARGIN_SECONDS
        assert not result.is_healthy
        assert result.error_message == "timeout expired: no answer from the server 2 s after connecting"
    finally:
        proxy.close()


def test_it_names_itself_to_the_server():
    proxy = FreezingProxy(upstream_port=5432)
    try:
        connection = ConnectionFactory.build(port=proxy.port, connect_timeout=2, sslmode="disable")
        prober = threading.Thread(target=probe, args=(connection,))
        prober.start()
        local_port = wait_for(lambda: proxy.upstream_ports and proxy.upstream_ports[0], timeout=10)

        def application_name():
            with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres") as conn:
                row = conn.execute(
                    "SELECT application_name FROM pg_stat_activity WHERE client_port = %s", (local_port,)
                ).fetchone()
                return row and row[0]

        assert wait_for(application_name, timeout=10) == "postgresql-reviewer"
        prober.join(timeout=30)
        assert not prober.is_alive()
    finally:
        proxy.close()


class FreezingProxy:
    """A loopback proxy to a PostgreSQL server that relays the handshake, then stops relaying
    at the client's first query: what a server that froze after accepting a login looks like.
    Needs sslmode=disable (it reads the client's messages)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.upstream_ports: list[int] = []
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            upstream.settimeout(None)
            self.upstream_ports.append(upstream.getsockname()[1])
            self._sockets += [client, upstream]
            threading.Thread(target=self._relay_until_query, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._relay, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _relay(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass

    @staticmethod
    def _relay_until_query(client: socket.socket, upstream: socket.socket) -> None:
        buffer = b""
        startup = True  # the first message has no type byte
        try:
            while data := client.recv(65536):
                buffer += data
                while True:
                    header = 4 if startup else 5
                    if len(buffer) < header:
                        break
                    kind = b"" if startup else buffer[:1]
                    length = struct.unpack("!I", buffer[header - 4 : header])[0] + header - 4
                    if len(buffer) < length:
                        break
                    if kind in (b"Q", b"P"):  # simple or extended query: freeze from here on
                        return
                    upstream.sendall(buffer[:length])
                    buffer, startup = buffer[length:], False
        except OSError:
            pass

    def close(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            sock.close()
