"""The replication checks against a real primary and a streaming standby made with
pg_basebackup -R: replay paused on the standby while the primary writes WAL is lag on both
sides, and a replication slot nobody streams from retains WAL."""

from __future__ import annotations

import os
import subprocess

import pytest

from tasks.reviews.database.check import Skip
from tasks.tests.database.conftest import admin, check, subjects
from testing.pg_cluster import PgCluster, _as_postgres, pg_bin
from testing.wait import wait_for

LOW = {"replication_lag_bytes": 100_000}  # 100 kB instead of 100 MB: a few thousand rows of WAL


class Standby(PgCluster):
    """A hot standby of `primary` streaming through physical slot `slot`, on a port of its own."""

    def __init__(self, primary: PgCluster, slot: str) -> None:
        super().__init__()
        self.primary = primary
        self.slot = slot

    def start(self) -> Standby:
        os.chmod(self.root, 0o777)
        subprocess.run(
            _as_postgres(
                [
                    "env",
                    f"PGPASSWORD={self.superuser_password}",
                    pg_bin("pg_basebackup"),
                    *("-h", self.primary.host, "-p", str(self.primary.port), "-U", self.superuser),
                    *("-D", str(self.datadir), "-R", "-C", "-S", self.slot, "-X", "stream", "-c", "fast", "--no-sync"),
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        with open(self.datadir / "postgresql.conf", "a") as fh:
            # The copied configuration is the primary's: listen elsewhere, report replay every second.
            fh.write(f"port = {self.port}\nunix_socket_directories = '{self.root}'\nwal_receiver_status_interval = 1\n")
        subprocess.run(
            _as_postgres(
                [pg_bin("pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60", "start"]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )
        return self


@pytest.fixture(scope="module")
def primary():
    cluster = PgCluster(settings={"wal_level": "replica", "max_wal_senders": "5"}).start()
    password = cluster.superuser_password
    admin(
        cluster,
        f"CREATE ROLE watcher LOGIN PASSWORD '{password}' IN ROLE pg_monitor; CREATE ROLE plain LOGIN PASSWORD '{password}'",
    )
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def standby(primary):
    standby = Standby(primary, slot="standby_1").start()
    wait_for(lambda: replayed(standby) and sent(primary), timeout=30)
    yield standby
    standby.stop()


def sent(primary: PgCluster) -> bool:
    """The standby is streaming and has replayed everything the primary wrote."""
    with primary.connect() as conn:
        return conn.execute(
            "SELECT count(*) = 1 AND bool_and(replay_lsn = pg_current_wal_lsn()) FROM pg_stat_replication"
            " WHERE state = 'streaming'"
        ).fetchone()[0]


def replayed(standby: Standby) -> bool:
    with standby.connect() as conn:
        return conn.execute("SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()").fetchone()[0]


def reported(cluster, name, expected: set[str], until=lambda problems: True, **kwargs):
    """Poll the check until it reports exactly `expected` and `until(problems)`; problems by subject."""

    def found():
        result = check(cluster, name, **kwargs)
        if subjects(result) != expected:
            return None
        by_subject = {problem.subject: problem for problem in result}
        return by_subject if until(by_subject) else None

    return wait_for(found, timeout=20)


def test_caught_up_standby_is_no_lag_on_either_side(primary, standby):
    assert subjects(check(primary, "replication_lag", thresholds=LOW)) == set()
    assert subjects(check(standby, "replication_lag", thresholds=LOW)) == set()


def test_paused_replay_is_lag_on_the_standby_and_on_the_primary(primary, standby):
    name = "walreceiver@127.0.0.1"  # the standby's application_name and address, as the primary sees it
    admin(standby, "SELECT pg_wal_replay_pause()")
    try:
        # Paused replay is reported even before WAL piles up.
        paused = reported(
            standby, "replication_lag", {"replay"}, until=lambda p: p["replay"].details["pause_state"] == "paused"
        )
        assert "replay on this standby is paused" in paused["replay"].message

        admin(primary, "CREATE TABLE filler AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 5000) g")
        on_standby = reported(
            standby,
            "replication_lag",
            {"replay"},
            until=lambda p: p["replay"].details["bytes"] >= 100_000,
            thresholds=LOW,
        )["replay"]
        assert on_standby.severity == "warning"
        assert on_standby.details["paused"] is True
        assert on_standby.details["role"] == "standby"
        assert on_standby.details["wal_receiver_status"] == "streaming"
        assert "of received WAL waits to be replayed" in on_standby.message
        assert on_standby.remedy.startswith("SELECT pg_wal_replay_resume();")

        on_primary = reported(
            primary, "replication_lag", {name}, until=lambda p: p[name].details["bytes"] >= 100_000, thresholds=LOW
        )[name]
        assert on_primary.severity == "warning"
        assert on_primary.details["role"] == "primary"
        assert on_primary.details["slot_name"] == "standby_1"
        assert on_primary.details["state"] == "streaming" and on_primary.details["sync_state"] == "async"
        # Received and flushed there, only not replayed: the remedy points at replay.
        assert on_primary.details["flush_bytes"] < on_primary.details["bytes"] / 2
        assert "pg_get_wal_replay_pause_state()" in on_primary.remedy
        assert on_primary.message.startswith(f"standby {name} (streaming, async) is ")
        assert "of WAL behind this server in replay" in on_primary.message

        # Above the critical threshold it is critical on both sides.
        critical = {**LOW, "replication_lag_critical_bytes": 100_000}
        assert [p.severity for p in check(primary, "replication_lag", thresholds=critical)] == ["critical"]
        assert [p.severity for p in check(standby, "replication_lag", thresholds=critical)] == ["critical"]
        # Under the default 100 MB the primary reports nothing; the standby still says replay is paused.
        assert subjects(check(primary, "replication_lag")) == set()
        assert subjects(check(standby, "replication_lag")) == {"replay"}

        # pg_monitor reads pg_stat_replication and the replay state; without pg_read_all_stats the
        # positions are hidden, and the check says what to grant.
        assert subjects(check(primary, "replication_lag", thresholds=LOW, user="watcher")) == {name}
        assert subjects(check(standby, "replication_lag", thresholds=LOW, user="watcher")) == {"replay"}
        blind = check(primary, "replication_lag", thresholds=LOW, user="plain")
        assert isinstance(blind, Skip) and blind.grant == "GRANT pg_monitor TO plain"
    finally:
        admin(standby, "SELECT pg_wal_replay_resume()")
    wait_for(lambda: replayed(standby) and sent(primary), timeout=30)
    assert subjects(check(standby, "replication_lag", thresholds=LOW)) == set()
    assert subjects(check(primary, "replication_lag", thresholds=LOW)) == set()


def test_unused_physical_slot_reported_with_its_retained_wal_then_not_once_dropped(primary, standby):
    admin(primary, "SELECT pg_create_physical_replication_slot('unused', true)")
    try:
        admin(primary, "CREATE TABLE more_wal AS SELECT g FROM generate_series(1, 2000) g")
        # The standby's own slot is active: only the unused one is reported.
        [problem] = check(primary, "inactive_replication_slot")
        assert problem.subject == "unused"
        assert problem.severity == "warning"
        assert problem.details["slot_type"] == "physical"
        assert problem.details["wal_status"] == "reserved"
        assert problem.details["retained_bytes"] > 0
        assert problem.message.startswith("replication slot 'unused' (physical) is not in use and retains ")
        assert problem.remedy.startswith("SELECT pg_drop_replication_slot('unused');")

        # Retaining more than the critical size is critical; below the minimum it is not reported.
        [critical] = check(
            primary, "inactive_replication_slot", thresholds={"inactive_replication_slot_critical_bytes": 1}
        )
        assert critical.severity == "critical"
        assert (
            subjects(check(primary, "inactive_replication_slot", thresholds={"inactive_replication_slot_bytes": 2**40}))
            == set()
        )

        # pg_monitor sees slots and the WAL position.
        assert subjects(check(primary, "inactive_replication_slot", user="watcher")) == {"unused"}
    finally:
        admin(primary, "SELECT pg_drop_replication_slot('unused')")
    assert subjects(check(primary, "inactive_replication_slot")) == set()


def test_unused_slot_on_a_standby_measured_from_the_wal_it_received(primary, standby):
    assert subjects(check(standby, "inactive_replication_slot")) == set()
    admin(standby, "SELECT pg_create_physical_replication_slot('cascade_unused', true)")
    try:
        admin(primary, "CREATE TABLE cascade_wal AS SELECT g FROM generate_series(1, 2000) g")
        wait_for(lambda: replayed(standby) and sent(primary))
        [problem] = check(standby, "inactive_replication_slot", user="watcher")
        assert problem.subject == "cascade_unused"
        assert problem.details["retained_bytes"] > 0
    finally:
        admin(standby, "SELECT pg_drop_replication_slot('cascade_unused')")
    assert subjects(check(standby, "inactive_replication_slot")) == set()
