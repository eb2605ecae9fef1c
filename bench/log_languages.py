"""Log analysis of a translated log against the same workload logged in English.

Builds, like bench/log_analysis.py (and with its generator), a real PostgreSQL log of
LOG_BENCH_MB megabytes (default 50) for each lc_messages of LOG_BENCH_LANGUAGES (default
C and de_DE.UTF-8; the locales are built with localedef into bench/out/locales), cached in
bench/out/. Then runs the analyzer (`python -m tasks.logs`, the language detected from the
log) on each, pinned to one core, a few times, and prints the best CPU seconds, MB/s and the
cost of each language relative to English.

    .venv/bin/python bench/log_languages.py
    LOG_BENCH_LANGUAGES=C,de_DE.UTF-8,ru_RU.UTF-8 LOG_BENCH_MB=50 .venv/bin/python bench/log_languages.py
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import log_analysis as english_bench  # noqa: E402

from testing.locales import build_locales  # noqa: E402

TARGET_MB = int(os.environ.get("LOG_BENCH_MB", "50"))
LANGUAGES = [name for name in os.environ.get("LOG_BENCH_LANGUAGES", "C,de_DE.UTF-8").split(",") if name]
RUNS = int(os.environ.get("LOG_BENCH_RUNS", "3"))
OUT = ROOT / "bench" / "out"


def log_for(lc_messages: str) -> Path:
    suffix = "" if lc_messages == "C" else "-" + lc_messages.split(".")[0]
    target = OUT / f"postgres-{TARGET_MB}MB{suffix}.log"
    if target.exists():
        return target
    print(f"building a {TARGET_MB} MB log with lc_messages = {lc_messages} in {target} ...", flush=True)
    english_bench.SETTINGS = {**english_bench.SETTINGS, "lc_messages": f"'{lc_messages}'"}
    if lc_messages != "C":
        os.environ["LOCPATH"] = build_locales(OUT, [lc_messages])  # the cluster started next inherits it
    try:
        english_bench.build_log(target, TARGET_MB)
    finally:
        os.environ.pop("LOCPATH", None)
    return target


def cpu_seconds(log: Path) -> tuple[float, dict]:
    """The analyzer's CPU time (user + sys) on `log`, pinned to one core; and its summary."""
    argv = [sys.executable, "-m", "tasks.logs", str(log), "--format", "stderr", "--prefix", english_bench.PREFIX]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", "1", *argv]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return spent, json.loads(done.stdout)["summary"]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    logs = {name: log_for(name) for name in LANGUAGES}
    rows = []
    for name, log in logs.items():
        best, summary = min((cpu_seconds(log) for _ in range(RUNS)), key=lambda run: run[0])
        rows.append((name, log.stat().st_size / 2**20, best, summary))
    english = rows[0][2] / rows[0][1]  # CPU seconds per MB of the first (English) log
    per_entry = rows[0][2] / rows[0][3]["analyzed_logs"]  # ... and per entry (Cyrillic takes 2 bytes a letter)
    print(f"\nmachine: {os.cpu_count()} cores; analyzer pinned to one core, best of {RUNS} runs (CPU seconds)")
    print(
        f"{'lc_messages':<14} {'MB':>6} {'CPU s':>7} {'MB/s':>7} {'cost/MB vs first':>17} "
        f"{'cost/entry vs first':>20} {'entries':>9} {'errors':>7}"
    )
    for name, mb, spent, summary in rows:
        entries = summary["analyzed_logs"]
        print(
            f"{name:<14} {mb:>6.0f} {spent:>7.2f} {mb / spent:>7.1f} {spent / mb / english:>16.2f}x "
            f"{spent / entries / per_entry:>19.2f}x {entries:>9} {summary['totals']['errors']:>7}"
        )


if __name__ == "__main__":
    main()
