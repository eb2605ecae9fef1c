"""What connections tells the apps above it, without importing them.

`probe_recorded` is sent once per stored batch of probe results, after the rows are saved:
by `record_probe` (on-demand checks, `POST …/check`, health_check reviews) with one status and
by `store_results` with a batch: each chunk of a scheduled round (connections/rounds.py), the
console's "Check now".
Receivers get `statuses`: the saved ConnectionStatus rows, in id order.

Senders use `send_robust`: a failing receiver is logged and never fails a probe.
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

probe_recorded = Signal()


def send_probe_recorded(statuses: list) -> None:
    if not statuses:
        return
    for receiver, error in probe_recorded.send_robust(sender=type(statuses[0]), statuses=statuses):
        if isinstance(error, Exception):
            logger.error("probe_recorded receiver %s failed: %s", getattr(receiver, "__qualname__", receiver), error)
