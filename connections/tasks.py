"""Celery tasks of connections: probes run on the `probes` queue, never behind reviews."""

from __future__ import annotations

from celery import shared_task

from connections import retention
from connections.fleet import probe_fleet


@shared_task(name="connections.probe_fleet", ignore_result=True)
def probe_fleet_round() -> dict:
    summary = probe_fleet()
    return {"probed": summary.probed, "healthy": summary.healthy, "seconds": summary.seconds}


@shared_task(name="connections.purge_status_history", ignore_result=True)
def purge_status_history() -> int:
    return retention.purge_status_history()
