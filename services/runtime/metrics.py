"""Prometheus metrics, one registry per app (no process-wide globals)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from services.runtime.dependencies import unavailable_dependency

log = logging.getLogger(__name__)


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hubstream_http_requests",
            "HTTP requests answered",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hubstream_http_request_seconds",
            "HTTP request latency",
            ["service", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.consumer_events = Gauge(
            "hubstream_consumer_events",
            "Events settled by a consumer, by outcome",
            ["group", "outcome"],
            registry=self.registry,
        )
        self.consumer_restarts = Gauge(
            "hubstream_consumer_restarts",
            "Times a consumer stopped with an error (a lost database connection, say) and was started again",
            ["group"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "hubstream_outbox_backlog", "Outbox events not yet published", ["service"], registry=self.registry
        )
        # Age says more than count: a stuck relay shows as a growing age even when little is written.
        self.outbox_oldest = Gauge(
            "hubstream_outbox_oldest_pending_seconds",
            "Age of the oldest outbox event not yet published (0 when none)",
            ["service"],
            registry=self.registry,
        )
        self.table_bytes = Gauge(
            "hubstream_table_bytes",
            "Size on disk of a runtime table (outbox, outbox_published, inbox), with its indexes",
            ["service", "table"],
            registry=self.registry,
        )
        self.table_rows = Gauge(
            "hubstream_table_rows_estimated",
            "Rows in a runtime table, PostgreSQL's estimate as of its last ANALYZE",
            ["service", "table"],
            registry=self.registry,
        )
        # Read from the database, where the pruner (in the relay process) counts: a gauge that only grows.
        self.retention_pruned = Gauge(
            "hubstream_retention_pruned_rows",
            "Rows the retention pruner has deleted from a runtime table since the schema was created",
            ["service", "table"],
            registry=self.registry,
        )
        # Requests answered 503 because PostgreSQL or Kafka could not be reached (see dependencies.py).
        self.dependency_errors = Counter(
            "hubstream_dependency_errors",
            "Requests refused with 503 because a dependency could not be reached",
            ["service", "dependency"],
            registry=self.registry,
        )
        self.service = service
        self._refreshers: list[Callable[[], Awaitable[None]]] = []

    def on_scrape(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Run `refresh` before each scrape (for values read from the database)."""
        self._refreshers.append(refresh)

    async def render(self) -> bytes:
        """The metrics text; values read from a database that is down keep their last reading."""
        for refresh in self._refreshers:
            try:
                await refresh()
            except Exception as exc:
                # A scrape during an outage is when the counters matter most: answer with the rest.
                if unavailable_dependency(exc) is None:
                    raise
                log.info("metrics: %s not refreshed, a dependency is down (%s)", refresh.__qualname__, exc)
        return generate_latest(self.registry)
