"""Locales for throwaway clusters that log in another language (lc_messages).

Debian's `locales` package ships the sources; `localedef` builds a locale into a private
directory that the server finds through LOCPATH, so the machine's own locales are not touched
and nothing needs root beyond reading /usr/share/i18n.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path


def build_locales(root: Path, names: Iterable[str]) -> str:
    """Build each locale ('de_DE.UTF-8') under root/locales once; returns the LOCPATH to set.
    Raises RuntimeError naming the package to install when the sources are missing."""
    target = root / "locales"
    target.mkdir(exist_ok=True)
    for name in names:
        if (target / name).exists():
            continue  # built already: building is idempotent, and takes a few seconds
        source, _, charset = name.partition(".")
        if not Path(f"/usr/share/i18n/locales/{source}").exists():
            raise RuntimeError(f"no locale source for {source}: apt-get install locales (scripts/ensure-system.sh)")
        done = subprocess.run(
            ["localedef", "-i", source, "-f", charset or "UTF-8", str(target / name)], capture_output=True, timeout=120
        )
        if not (target / name).exists():
            raise RuntimeError(f"localedef could not build {name}: {done.stderr.decode(errors='replace')[-500:]}")
    # The server runs as postgres: it must be able to read the locales.
    for path in (root, target):
        os.chmod(path, 0o755)
    return str(target)
