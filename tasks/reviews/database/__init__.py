"""The `database_review` task type: catalog and statistics checks, one module per area.

check.py      Check, Problem, CheckContext and run_check (skips instead of failing)
catalog.py    every check, by name, and the thresholds they take
review.py     one review of a cluster: its cluster-wide checks once, then each database
indexes.py, maintenance.py, activity.py, replication.py, queries.py, server_settings.py,
security.py   the checks of each area
"""
