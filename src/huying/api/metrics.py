"""Prometheus metrics, one registry per app instance (so tests can build many apps)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMetrics:
    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "huying_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "huying_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        # Each series' child, by its labels, once it has been counted: ``labels()`` checks and
        # looks the labels up under a lock on every call. Routes and statuses are few.
        self._counted: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_count(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_count)
        finally:
            elapsed = time.perf_counter() - started
            key = (scope["method"], getattr(scope.get("route"), "path", "unmatched"), status)
            series = self._counted.get(key)
            if series is None:
                method, route, _ = key
                counter = self.requests.labels(method, route, str(status))
                series = self._counted.setdefault(key, (counter, self.latency.labels(method, route)))
            series[0].inc()
            series[1].observe(elapsed)
