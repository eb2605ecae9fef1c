"""How the monitoring API writes JSON."""

from __future__ import annotations

from rest_framework.renderers import JSONRenderer


class SpacedJSONRenderer(JSONRenderer):
    """JSON with a space after `,` and `:`.

    The documented health script runs `echo $RESPONSE` unquoted, so the shell splits and
    glob-expands the body: compact JSON without spaces is one word `[...]`, a bracket glob
    that a one-letter file in the script's directory would replace. Spaces keep every `[`
    and `]` of the structure in separate words, where bash leaves them alone.
    """

    compact = False
