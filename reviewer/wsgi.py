"""The WSGI application the web server runs (scripts/serve.sh: granian; `make run`: runserver)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewer.settings")

application = get_wsgi_application()

# The URL configuration imports every view, serializer and template tag module: load it now
# rather than on the first request, so that it is frozen below too.
import reviewer.urls  # noqa: E402, F401

# What is loaded by now lives as long as the process. Frozen, it is left out of the garbage
# collector's full passes, which otherwise walk its ~120,000 objects (about 30 ms, a pause of
# every request of the worker) to find garbage only among what requests create.
gc.freeze()
