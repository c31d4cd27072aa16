"""The framework's own Prometheus metrics, on prometheus_client's default registry.

The default registry already carries process and platform collectors, and whatever a plugin
author registers, so ``CollectMetrics`` (contract 2.4.6) returns all of it in one text payload.
Metrics are process-wide singletons: registering a name twice in one process is an error.

prometheus_client takes ~30 ms to import (its exposition module pulls in ``http.server``), a
tenth of the cold-start budget, so the metrics are created on first use (``create()``), which
the server does in a background thread right after the handshake.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

    REQUESTS: Counter
    REQUEST_DURATION: Histogram
    REQUESTS_IN_FLIGHT: Gauge
    QUERIES: Counter
    QUERY_DURATION: Histogram
    INSTANCES: Gauge

__all__ = (
    "INSTANCES",
    "QUERIES",
    "QUERY_DURATION",
    "REQUESTS",
    "REQUESTS_IN_FLIGHT",
    "REQUEST_DURATION",
    "create",
)

_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_lock = threading.Lock()


def create() -> None:
    """Import prometheus_client and register the metrics (once; safe from any thread)."""
    with _lock:
        if "REQUESTS" in globals():
            return
        from prometheus_client import Counter, Gauge, Histogram

        names = globals()
        names["REQUEST_DURATION"] = Histogram(
            "plutono_plugin_request_duration_seconds",
            "Time to handle a gRPC call, by endpoint.",
            ("endpoint",),
            buckets=_BUCKETS,
        )
        names["REQUESTS_IN_FLIGHT"] = Gauge(
            "plutono_plugin_requests_in_flight",
            "gRPC calls being handled now, by endpoint.",
            ("endpoint",),
        )
        names["QUERIES"] = Counter(
            "plutono_plugin_queries_total",
            "Queries answered, by query type and outcome (ok or error).",
            ("query_type", "outcome"),
        )
        names["QUERY_DURATION"] = Histogram(
            "plutono_plugin_query_duration_seconds",
            "Time a query handler took, by query type.",
            ("query_type",),
            buckets=_BUCKETS,
        )
        names["INSTANCES"] = Gauge(
            "plutono_plugin_instances",
            "Per-datasource/app instances alive.",
        )
        # Last: its presence tells other threads that every metric exists.
        names["REQUESTS"] = Counter(
            "plutono_plugin_requests_total",
            "gRPC calls handled, by endpoint and gRPC status.",
            ("endpoint", "status"),
        )


def __getattr__(name: str) -> Any:
    if name in __all__:
        create()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
