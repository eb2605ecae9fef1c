"""Review types: one module each, listed in registry.py (see docs/development.md)."""
