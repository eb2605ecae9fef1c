#!/bin/bash
# Health check script for monitoring systems

RESPONSE=$(curl -s "http://localhost:8000/monitoring/connections/status")
UNHEALTHY_COUNT=$(echo $RESPONSE | jq '[.[] | select(.is_healthy == false)] | length')

if [ "$UNHEALTHY_COUNT" -gt 0 ]; then
    echo "ALERT: $UNHEALTHY_COUNT unhealthy database connections detected"
    exit 1
fi

echo "OK: All database connections are healthy"
exit 0
