"""Checks of the replication area: standbys falling behind and replication slots nobody uses.

Both are cluster-wide and work on a primary and on a standby. On a primary the WAL position is
pg_current_wal_lsn(); a standby has none (the function fails during recovery), so there the
position is the WAL it has received (pg_last_wal_receive_lsn()), or replayed when it streams
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tasks.reviews.database.activity import SEE_ALL_SESSIONS, duration, require_all_sessions
from tasks.reviews.database.check import CLUSTER, MAX_PROBLEMS, Check, CheckContext, Problem, size

# The WAL position this server is at, as SQL, on a primary and on a standby.
PRIMARY_LSN = "pg_current_wal_lsn()"
STANDBY_LSN = "greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def replication_lag(ctx: CheckContext) -> Iterator[Problem]:
    require_all_sessions(ctx)  # pg_stat_replication shows positions and lag to pg_read_all_stats only
    in_recovery = ctx.value("SELECT pg_is_in_recovery()")
    if in_recovery:
        yield from _standby_replay(ctx)
    yield from _standbys(ctx, STANDBY_LSN if in_recovery else PRIMARY_LSN)


def _standby_replay(ctx: CheckContext) -> Iterator[Problem]:
    """This server is a standby: how far its replay is behind the WAL it has received."""
    pause = (
        "pg_get_wal_replay_pause_state()"
        if ctx.server_version >= 140000
        else "CASE WHEN pg_is_wal_replay_paused() THEN 'paused' ELSE 'not paused' END"
    )
    row = ctx.rows(
        f"""
        SELECT pg_last_wal_receive_lsn()::text AS receive_lsn, pg_last_wal_replay_lsn()::text AS replay_lsn,
               greatest(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0) AS bytes,
               -- the age of the last replayed commit is a lag only while there is WAL left to replay
               CASE WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
                    WHEN pg_last_xact_replay_timestamp() IS NOT NULL
                    THEN greatest(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)
                    END AS seconds,
               to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                   AS last_replayed_commit,
               {pause} AS pause_state,
               (SELECT status FROM pg_stat_wal_receiver) AS receiver_status,
               (SELECT sender_host FROM pg_stat_wal_receiver) AS sender_host
        """
    )[0]
    bytes_, seconds = _int(row["bytes"]), _float(row["seconds"])
    paused = row["pause_state"] != "not paused"
    late = (bytes_ is not None and bytes_ >= ctx.thresholds["replication_lag_bytes"]) or (
        seconds is not None and seconds >= ctx.thresholds["replication_lag_seconds"]
    )
    if not (paused or late):
        return
    parts = []
    if paused:
        parts.append(f"replay on this standby is {row['pause_state']} (pg_wal_replay_pause())")
    if bytes_ is None:
        parts.append("it receives no WAL by streaming (no WAL receiver position)")
    else:
        parts.append(f"{size(bytes_)} of received WAL waits to be replayed")
    if seconds:
        parts.append(f"the last replayed commit is {duration(seconds)} old")
    remedy = (
        "SELECT pg_wal_replay_resume();  -- on this standby, once whatever paused replay is done"
        if paused
        else "Look on this standby for queries that conflict with replay (pg_stat_activity, "
        "max_standby_streaming_delay, hot_standby_feedback) and for a disk that cannot keep up with the primary's WAL"
    )
    yield Problem(
        severity="critical" if (bytes_ or 0) >= ctx.thresholds["replication_lag_critical_bytes"] else "warning",
        subject="replay",
        message="; ".join(parts),
        remedy=remedy,
        details={
            "role": "standby",
            "bytes": bytes_,
            "seconds": seconds,
            "paused": paused,
            "pause_state": row["pause_state"],
            "receive_lsn": row["receive_lsn"],
            "replay_lsn": row["replay_lsn"],
            "last_replayed_commit": row["last_replayed_commit"],
            "wal_receiver_status": row["receiver_status"],
            "sender_host": row["sender_host"],
        },
    )


def _standbys(ctx: CheckContext, position: str) -> Iterator[Problem]:
    """The standbys (and logical subscribers) streaming from this server: how far each is behind."""
    rows = ctx.rows(
        f"""
        SELECT r.pid, r.application_name, host(r.client_addr) AS client_addr, r.client_hostname,
               r.state, r.sync_state, s.slot_name::text AS slot_name,
               pg_wal_lsn_diff({position}, r.sent_lsn) AS sent_bytes,
               pg_wal_lsn_diff({position}, r.flush_lsn) AS flush_bytes,
               pg_wal_lsn_diff({position}, r.replay_lsn) AS bytes,
               extract(epoch FROM r.write_lag) AS write_seconds,
               extract(epoch FROM r.flush_lag) AS flush_seconds,
               extract(epoch FROM r.replay_lag) AS seconds,
               r.replay_lsn::text AS replay_lsn
        FROM pg_stat_replication r
        LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
        WHERE r.state <> 'backup'
        ORDER BY bytes DESC NULLS LAST, r.pid
        """
    )
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        # A standby is known by its name and host, which survive its reconnects; its pid and port do not.
        name = f"{row['application_name'] or 'standby'}@{row['client_addr'] or row['client_hostname'] or 'local'}"
        if name in seen:
            seen[name]["same_name"] += 1  # rows come worst first: the first of a name is reported
            continue
        bytes_, seconds = _int(row["bytes"]), _float(row["seconds"])
        late = (bytes_ is not None and bytes_ >= ctx.thresholds["replication_lag_bytes"]) or (
            seconds is not None and seconds >= ctx.thresholds["replication_lag_seconds"]
        )
        details = {
            "role": "primary" if position == PRIMARY_LSN else "cascading standby",
            "bytes": bytes_,
            "seconds": seconds,
            "sent_bytes": _int(row["sent_bytes"]),
            "flush_bytes": _int(row["flush_bytes"]),
            "write_seconds": _float(row["write_seconds"]),
            "flush_seconds": _float(row["flush_seconds"]),
            "pid": row["pid"],
            "application_name": row["application_name"],
            "client_addr": row["client_addr"],
            "state": row["state"],
            "sync_state": row["sync_state"],
            "slot_name": row["slot_name"],
            "replay_lsn": row["replay_lsn"],
            "same_name": 0,
        }
        seen[name] = details
        if not late:
            continue
        flushed = details["flush_bytes"] or 0
        if bytes_ is not None and flushed < bytes_ / 2:
            cause = (
                "it has received the WAL but replays it slowly: is replay paused there "
                "(SELECT pg_get_wal_replay_pause_state();), do queries there conflict with replay "
                "(max_standby_streaming_delay), is its disk keeping up?"
            )
        else:
            cause = "WAL reaches it slowly: check the network to it, its disk, and whether it is overloaded"
        timing = f" (replay_lag {duration(seconds)})" if seconds is not None else ""
        yield Problem(
            severity="critical" if (bytes_ or 0) >= ctx.thresholds["replication_lag_critical_bytes"] else "warning",
            subject=name,
            message=f"standby {name} ({row['state']}, {row['sync_state']}) is {size(bytes_)} of WAL behind this server "
            f"in replay{timing}; {size(flushed)} of it not yet flushed there",
            remedy=f"On the standby: {cause}",
            details=details,
        )


def inactive_replication_slots(ctx: CheckContext) -> Iterator[Problem]:
    in_recovery = ctx.value("SELECT pg_is_in_recovery()")
    position = STANDBY_LSN if in_recovery else PRIMARY_LSN
    warn = ctx.thresholds["inactive_replication_slot_bytes"]
    crit = ctx.thresholds["inactive_replication_slot_critical_bytes"]
    inactive_since = (
        "to_char(inactive_since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        if ctx.server_version >= 170000
        else "NULL::text"
    )
    rows = ctx.rows(
        f"""
        SELECT slot_name::text AS slot_name, quote_literal(slot_name) AS slot_literal, slot_type, plugin::text AS plugin,
               database::text AS database, wal_status, safe_wal_size,
               pg_wal_lsn_diff({position}, restart_lsn) AS retained,
               age(xmin)::bigint AS xmin_age, age(catalog_xmin)::bigint AS catalog_xmin_age,
               restart_lsn::text AS restart_lsn, confirmed_flush_lsn::text AS confirmed_flush_lsn,
               {inactive_since} AS inactive_since
        FROM pg_replication_slots
        WHERE NOT active
          AND coalesce(pg_wal_lsn_diff({position}, restart_lsn), 0) >= %(warn)s
        ORDER BY wal_status = 'lost' DESC, retained DESC NULLS LAST, slot_name
        LIMIT %(limit)s
        """,
        {"warn": warn, "limit": MAX_PROBLEMS + 1},
    )
    truncated = len(rows) > MAX_PROBLEMS
    for row in rows[:MAX_PROBLEMS]:
        retained = _int(row["retained"])
        wal_status = row["wal_status"]
        lost = wal_status in ("lost", "unreserved")
        parts = [f"replication slot {row['slot_literal']} ({row['slot_type']}"]
        parts[0] += f", {row['plugin']} in database {row['database']})" if row["slot_type"] == "logical" else ")"
        parts.append("is not in use")
        if wal_status == "lost":
            parts.append("and has lost WAL it needs (wal_status lost): its consumer can never resume from it")
        elif retained is None:
            parts.append("(it reserves no WAL yet)")
        else:
            parts.append(f"and retains {size(retained)} of WAL" + (f" (wal_status {wal_status})" if wal_status else ""))
        holds = [age for age in (row["xmin_age"], row["catalog_xmin_age"]) if age is not None]
        if holds:
            parts.append(f"and keeps VACUUM from removing rows newer than {max(holds)} transactions")
        in_database = f"  -- in database {row['database']}" if row["slot_type"] == "logical" else ""
        yield Problem(
            severity="critical" if lost or (retained or 0) >= crit else "warning",
            subject=row["slot_name"],
            message=" ".join(parts),
            remedy=f"SELECT pg_drop_replication_slot({row['slot_literal']});{in_database}  -- once its consumer "
            "(standby, subscription, CDC tool) is gone for good; to bound what any slot may keep: "
            "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf();",
            details={
                "retained_bytes": retained,
                "slot_type": row["slot_type"],
                "plugin": row["plugin"],
                "database": row["database"],
                "wal_status": wal_status,
                "safe_wal_size": _int(row["safe_wal_size"]),
                "xmin_age": row["xmin_age"],
                "catalog_xmin_age": row["catalog_xmin_age"],
                "restart_lsn": row["restart_lsn"],
                "confirmed_flush_lsn": row["confirmed_flush_lsn"],
                "inactive_since": row["inactive_since"],
                **({"truncated": f"only the first {MAX_PROBLEMS} are reported"} if truncated else {}),
            },
        )


CHECKS: list[Check] = [
    Check(
        name="replication_lag",
        area="replication",
        scope=CLUSTER,
        run=replication_lag,
        summary="On a primary, a standby whose replay is replication_lag_bytes or replication_lag_seconds behind "
        "(pg_stat_replication); on a standby, WAL received but not replayed, or replay paused "
        "(default: 100 MB, critical from 1 GB, as pganalyze; or 300 s).",
        thresholds={
            "replication_lag_bytes": 100 * 1024 * 1024,
            "replication_lag_critical_bytes": 1024 * 1024 * 1024,
            "replication_lag_seconds": 300,
        },
        grant=SEE_ALL_SESSIONS,
    ),
    Check(
        name="inactive_replication_slot",
        area="replication",
        scope=CLUSTER,
        run=inactive_replication_slots,
        summary="A replication slot nobody streams from, retaining at least inactive_replication_slot_bytes of WAL "
        "(default: 0, any inactive slot, as PgHero); critical once its WAL is lost or unreserved or it retains "
        "inactive_replication_slot_critical_bytes (default: 1 GB).",
        thresholds={
            "inactive_replication_slot_bytes": 0,
            "inactive_replication_slot_critical_bytes": 1024 * 1024 * 1024,
        },
    ),
]
