#!/usr/bin/env bash
# Alerts when an active database connection is unhealthy (down, or not probed for too long).
# Fails closed: if the API cannot be read (service down, timeout, 401, 500, not a list), it
# says so and exits 3, never "OK".
# Exit codes (Nagios plugin convention): 0 OK, 1 ALERT, 3 UNKNOWN (the API could not be read).
# Environment: REVIEWER_TOKEN (required), REVIEWER_URL (default http://localhost:8000),
# REVIEWER_TIMEOUT (seconds, default 20).
set -euo pipefail

url="${REVIEWER_URL:-http://localhost:8000}/api/v1/monitoring/connections/status"
if [ -z "${REVIEWER_TOKEN:-}" ]; then
    echo "UNKNOWN: REVIEWER_TOKEN is not set"
    exit 3
fi

# The header reaches curl on standard input, so the token is not on a command line (ps).
if ! body=$(curl -fsS --max-time "${REVIEWER_TIMEOUT:-20}" -H @- "$url" 2>&1 <<<"Authorization: Token $REVIEWER_TOKEN"); then
    echo "UNKNOWN: cannot read $url: $body"
    exit 3
fi
if ! report=$(jq -r 'if type != "array" then error("not a list") else
        [.[] | select(.is_healthy == false) | .name]
        | "\(length)\t\(.[:10] | join(", "))\(if length > 10 then ", and \(length - 10) more" else "" end)"
    end' <<<"$body" 2>/dev/null); then
    echo "UNKNOWN: $url did not answer a list of connections"
    exit 3
fi

count="${report%%$'\t'*}"
if [ "$count" -gt 0 ]; then
    echo "ALERT: $count unhealthy database connections detected: ${report#*$'\t'}"
    exit 1
fi

echo "OK: All database connections are healthy"
exit 0
