"""Python's cyclic garbage collector, paused while a log is read.

The parsers make a few objects the collector tracks for every log line (a match, the tuple of
its groups, the entry), and none of them is ever part of a reference cycle: reference counting
frees each one. The collector would still walk them, a young-generation pass every 700
allocations, and then again as they age: 15% of the time an analysis takes (bench/log_analysis.py).
`paused_gc`, as a context manager or a decorator, turns it off while a read runs. Uses may nest
and run in several threads at once: the collector comes back on when the last one ends, if it
was on before the first began. What is freed meanwhile is freed as usual; only garbage in
cycles (rare: none is made per line) waits for the collector's next pass.
"""

from __future__ import annotations

import gc
import threading
from contextlib import ContextDecorator


class _PausedGC(ContextDecorator):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._was_enabled = False

    def __enter__(self) -> _PausedGC:
        with self._lock:
            if self._depth == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._was_enabled:
                gc.enable()


paused_gc = _PausedGC()
