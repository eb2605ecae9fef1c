"""What beat sends names real tasks, on the probes queue, never behind long reviews."""

from __future__ import annotations

from django.conf import settings

from reviewer.celery import app


def test_every_periodic_entry_names_a_registered_task_routed_to_the_probes_queue():
    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
        assert entry["options"]["queue"] == "probes", name
        assert entry["options"]["expires"] <= entry["schedule"], name  # a backlog skips stale ticks


def test_the_probe_round_runs_every_probe_interval():
    entry = settings.CELERY_BEAT_SCHEDULE["probe-fleet"]
    assert entry["schedule"] == settings.PROBE_INTERVAL_SECONDS
    assert settings.PROBE_STALE_AFTER_SECONDS > settings.PROBE_INTERVAL_SECONDS
