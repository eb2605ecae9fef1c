"""The production storage of static files: WhiteNoise's hashed names and gzip copies, no brotli.

`collectstatic` runs each time the web process starts (scripts/serve.sh). WhiteNoise adds a
brotli copy of every file whenever the `brotli` module is importable, and brotli at its
highest level costs about 50 s of CPU for the admin's and the API docs' files on a 2-core
machine: a web start that slow is an outage. `brotli` arrives with unrelated packages (the
load bench's HTTP client), so whether it is installed must not decide how long a start takes.
"""

from __future__ import annotations

from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage


class GzipManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def create_compressor(self, **kwargs) -> Compressor:
        return super().create_compressor(use_brotli=False, **kwargs)
