"""The deployment files: systemd units that systemd accepts, one worker per queue, an
environment example with every production variable and no secret, and the state directory
that holds beat's schedule instead of a /tmp path shared by every checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from testing.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
ENV_EXAMPLE = ROOT / "deploy" / "reviewer.env.example"
INSTALL_DIR = "/opt/postgresql-reviewer"
# Only for the SQLite default of `make run`, never in production.
NOT_FOR_PRODUCTION = {"SQLITE_PATH"}


def unit(name: str) -> str:
    return (UNITS / name).read_text()


def exec_start(name: str) -> str:
    return re.search(r"^ExecStart=(.+)$", unit(name), re.MULTILINE).group(1)


def worker_units() -> dict[str, str]:
    """queue -> unit file name, from each worker unit's `-Q`."""
    found = {}
    for path in sorted(UNITS.glob("postgresql-reviewer-worker-*.service")):
        queues = re.search(r" -Q (\S+)", exec_start(path.name)).group(1)
        for queue in queues.split(","):
            found[queue] = path.name
    return found


def variables_in(text: str) -> set[str]:
    """The variables a systemd environment file sets, or shows commented out with their default."""
    return set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def parsed_env_file(text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.MULTILINE))


def test_systemd_accepts_the_units():
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: run scripts/ensure-system.sh (make test does)"
    # Verified as installed in this checkout, so that the commands they start must exist.
    checked = Path(os.environ.get("TMPDIR", "/tmp")) / f"reviewer-units-{os.getpid()}"
    shutil.rmtree(checked, ignore_errors=True)
    checked.mkdir()
    for path in UNITS.iterdir():
        (checked / path.name).write_text(path.read_text().replace(INSTALL_DIR, str(ROOT)))
    try:
        done = subprocess.run(
            [analyze, "verify", "--man=no", *sorted(str(path) for path in checked.iterdir())],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(checked)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # an unknown key or bad value is only a warning to systemd


def test_every_queue_the_service_sends_to_has_a_worker_unit_and_notifications_has_one():
    sent_to = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    sent_to |= {entry["options"]["queue"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    sent_to.add(settings.CELERY_TASK_DEFAULT_QUEUE)

    assert sent_to | {"notifications"} <= set(worker_units())
    assert set(worker_units()) == {"reviews", "probes", "notifications"}


def test_each_unit_runs_the_checkout_as_the_service_user_with_the_environment_file():
    services = sorted(path.name for path in UNITS.glob("*.service"))
    assert len(services) == 6  # web, three workers, beat, migrate
    for name in services:
        text = unit(name)
        assert "\nUser=reviewer\n" in text, name
        assert "\nEnvironmentFile=/etc/postgresql-reviewer/reviewer.env\n" in text, name
        assert f"\nWorkingDirectory={INSTALL_DIR}\n" in text, name
        assert exec_start(name).startswith(f"{INSTALL_DIR}/"), name
    assert exec_start("postgresql-reviewer-web.service") == f"{INSTALL_DIR}/scripts/serve.sh"
    assert exec_start("postgresql-reviewer-beat.service") == f"{INSTALL_DIR}/.venv/bin/celery -A reviewer beat -l INFO"


def test_the_long_running_units_belong_to_the_target_and_keep_state_in_var_lib():
    for name in sorted(path.name for path in UNITS.glob("*.service")):
        if name == "postgresql-reviewer-migrate.service":
            continue
        text = unit(name)
        assert "\nPartOf=postgresql-reviewer.target\n" in text, name
        assert "\nWantedBy=postgresql-reviewer.target\n" in text, name
        assert "\nStateDirectory=postgresql-reviewer\n" in text, name
        assert "\nEnvironment=REVIEWER_STATE_DIR=/var/lib/postgresql-reviewer\n" in text, name


def test_worker_node_names_use_celerys_host_placeholder_not_systemds():
    # In a unit file, %h is systemd's home directory; Celery's %h must be written %%h.
    for queue, name in worker_units().items():
        assert f" -n {queue}@%%h " in exec_start(name), name


def test_the_environment_example_names_every_production_variable():
    read_by_settings = set(
        re.findall(r'env_(?:str|bool|int)\("([A-Z_]+)"', (ROOT / "reviewer/settings.py").read_text())
    )
    read_by_serve = set(re.findall(r"\$\{(WEB_[A-Z_]+)", (ROOT / "scripts/serve.sh").read_text()))
    read_by_units = {
        variable for path in UNITS.glob("*.service") for variable in re.findall(r"\$\{([A-Z_]+)\}", path.read_text())
    }

    missing = (read_by_settings - NOT_FOR_PRODUCTION) | read_by_serve | read_by_units
    missing -= variables_in(ENV_EXAMPLE.read_text())
    assert missing == set(), f"add these to {ENV_EXAMPLE.relative_to(ROOT)} (and docs/configuration.md)"


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_environment_example_holds_no_secret_and_the_service_refuses_to_start_until_one_is_set():
    example = parsed_env_file(ENV_EXAMPLE.read_text())
    assert example["DJANGO_SECRET_KEY"] == ""
    assert "CHANGE-ME" in example["DATABASE_URL"]
    assert not any(example.get(name) for name in ("VAULT_TOKEN", "VAULT_SECRET_ID", "VAULT_ROLE_ID"))

    done = manage(example, "check")
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is false" in done.stderr


def test_the_environment_example_with_its_blanks_filled_passes_check_deploy():
    example = parsed_env_file(ENV_EXAMPLE.read_text())
    example["DJANGO_SECRET_KEY"] = "k" * 10 + "".join(chr(ord("a") + i % 26) for i in range(60))

    done = manage(example, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_relative_state_directory_is_refused():
    done = manage({"DJANGO_DEBUG": "true", "REVIEWER_STATE_DIR": "var"}, "check")

    assert done.returncode != 0
    assert "REVIEWER_STATE_DIR must be an absolute directory, not 'var'" in done.stderr


def test_the_procfile_and_units_name_no_tmp_path():
    for path in [ROOT / "Procfile", *UNITS.iterdir()]:
        assert "/tmp" not in path.read_text(), path.name


def test_beat_keeps_its_schedule_in_the_state_directory(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    env = {**os.environ, "REVIEWER_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    celery = str(Path(sys.executable).with_name("celery"))
    with open(tmp_path / "beat.log", "w") as log:
        beat = subprocess.Popen(
            [celery, "-A", "reviewer", "beat", "-l", "INFO"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def schedule_written() -> list[Path]:
            if beat.poll() is not None:
                raise AssertionError(f"beat exited:\n{(tmp_path / 'beat.log').read_text()}")
            return list(state.glob("celerybeat-schedule*"))

        try:
            wait_for(schedule_written, timeout=60, interval=0.2)
        finally:
            beat.terminate()
            beat.wait(timeout=30)
    assert f"db -> {state}/celerybeat-schedule" in (tmp_path / "beat.log").read_text()
    assert not list(tmp_path.glob("celerybeat-schedule*"))  # not in the directory it was started from
