"""Real services for the test suite: throwaway PostgreSQL clusters, a Celery worker
process, black-holed listeners. Nothing here is a mock."""
