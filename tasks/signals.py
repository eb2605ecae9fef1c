"""What tasks tells the apps above it, without importing them.

Both signals are sent after the transaction that made the change has committed
(`transaction.on_commit`), so a rolled-back run notifies nobody. Senders use `send_robust`: a
failing receiver is logged and never fails a run.

- `execution_failed(execution)`: an execution was marked failed, by whatever path (the review
  failed or timed out, the reaper found it lost, the broker did not take its message).
- `findings_changed(execution, opened, resolved)`: what one `record_findings` call opened
  (new, or back after being resolved) and resolved, as lists of Finding rows.
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

execution_failed = Signal()
findings_changed = Signal()


def send_robust(signal: Signal, sender: type, **kwargs) -> None:
    for receiver, error in signal.send_robust(sender=sender, **kwargs):
        if isinstance(error, Exception):
            logger.error("%s receiver failed: %s", getattr(receiver, "__qualname__", receiver), error)
