#!/usr/bin/env bash
# Warns when a task execution failed in the last hour. The API filters (status, since), so a
# busy hour's failures are all counted, up to the API's limit of 1000.
# Fails closed: if the API cannot be read (service down, timeout, 401, 500, not a list), it
# says so and exits 3, never "OK".
# Exit codes (Nagios plugin convention): 0 OK, 1 WARNING, 3 UNKNOWN (the API could not be read).
# Environment: REVIEWER_TOKEN (required), REVIEWER_URL (default http://localhost:8000),
# REVIEWER_TIMEOUT (seconds, default 20).
set -euo pipefail

since=$(date -u -d '1 hour ago' +%FT%TZ)
url="${REVIEWER_URL:-http://localhost:8000}/api/v1/monitoring/tasks/executions?status=failed&since=$since&limit=1000"
if [ -z "${REVIEWER_TOKEN:-}" ]; then
    echo "UNKNOWN: REVIEWER_TOKEN is not set"
    exit 3
fi

# The header reaches curl on standard input, so the token is not on a command line (ps).
if ! body=$(curl -fsS --max-time "${REVIEWER_TIMEOUT:-20}" -H @- "$url" 2>&1 <<<"Authorization: Token $REVIEWER_TOKEN"); then
    echo "UNKNOWN: cannot read $url: $body"
    exit 3
fi
# Newest first: the first row is the latest failure.
if ! report=$(jq -r 'if type != "array" then error("not a list") else
        "\(length)\t\(if length > 0 then "execution \(.[0].id) of task \(.[0].task_id): \(.[0].error_message // "" | gsub("\\s+"; " ") | .[:200])" else "" end)"
    end' <<<"$body" 2>/dev/null); then
    echo "UNKNOWN: $url did not answer a list of executions"
    exit 3
fi

count="${report%%$'\t'*}"
if [ "$count" -gt 0 ]; then
    echo "WARNING: $count failed tasks in the last hour; latest: ${report#*$'\t'}"
    exit 1
fi

echo "OK: No failed tasks in the last hour"
exit 0
