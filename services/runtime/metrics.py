"""Prometheus metrics, one registry per app (no process-wide globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


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
        self.service = service
        self._refreshers: list[Callable[[], Awaitable[None]]] = []

    def on_scrape(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Run `refresh` before each scrape (for values read from the database)."""
        self._refreshers.append(refresh)

    async def render(self) -> bytes:
        for refresh in self._refreshers:
            await refresh()
        return generate_latest(self.registry)
