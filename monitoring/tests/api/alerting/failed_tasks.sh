#!/bin/bash
# Monitor for failed tasks in the last hour

FAILED_TASKS=$(curl -s "http://localhost:8000/monitoring/tasks/executions?limit=100" | \
    jq '[.[] | select(.status == "failed" and (.started_at | fromdateiso8601) > (now - 3600))] | length')

if [ "$FAILED_TASKS" -gt 0 ]; then
    echo "WARNING: $FAILED_TASKS failed tasks in the last hour"
    exit 1
fi

echo "OK: No failed tasks in the last hour"
exit 0
