"""The request mix of monitoring scripts, for bench/load.py (which runs locust on this file).

Closed-loop clients: each sends its next request as soon as the last one answered (no think
time), with the token of a read-only user, over keep-alive connections (FastHttpUser: the
cheapest load generator locust has, since it shares the cores with the server). The weights
follow what polls the API: the fleet status most (alerting scripts, dashboards), then one
connection, running tasks and recent executions, then failures of the last hour, findings and
the load balancer's /healthz.

Environment (set by bench/load.py): LOAD_TOKEN, LOAD_CONNECTION_IDS (comma-separated).
"""

from __future__ import annotations

import os
import random
import time

from locust import FastHttpUser, constant, task

API = "/api/v1/monitoring"
CONNECTION_IDS = [int(value) for value in os.environ["LOAD_CONNECTION_IDS"].split(",")]


def hour_ago() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))


class MonitoringScript(FastHttpUser):
    wait_time = constant(0)
    # A request that takes longer than this counts as an error.
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Token {os.environ['LOAD_TOKEN']}", "Accept": "application/json"}

    @task(4)
    def fleet_status(self) -> None:
        self.client.get(f"{API}/connections/status", headers=self.headers)

    @task(2)
    def one_connection(self) -> None:
        connection_id = random.choice(CONNECTION_IDS)
        self.client.get(
            f"{API}/connections/{connection_id}/status", headers=self.headers, name=f"{API}/connections/{{id}}/status"
        )

    @task(2)
    def running_tasks(self) -> None:
        self.client.get(f"{API}/tasks/running", headers=self.headers)

    @task(2)
    def recent_executions(self) -> None:
        self.client.get(f"{API}/tasks/executions?limit=20", headers=self.headers)

    @task(1)
    def failures_of_the_last_hour(self) -> None:
        self.client.get(
            f"{API}/tasks/executions?status=failed&since={hour_ago()}",
            headers=self.headers,
            name=f"{API}/tasks/executions?status=failed&since=1h",
        )

    @task(1)
    def findings(self) -> None:
        self.client.get(f"{API}/findings", headers=self.headers)

    @task(1)
    def healthz(self) -> None:
        self.client.get("/healthz")
