"""Prometheus metrics at /metrics (README "Metrics"): collector.py says what is exposed,
views.py who may read it."""
