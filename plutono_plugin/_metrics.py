"""The framework's own Prometheus metrics, on prometheus_client's default registry.

The default registry already carries process and platform collectors, and whatever a plugin
author registers, so ``CollectMetrics`` (contract 2.4.6) returns all of it in one text payload.
Metrics are module-level singletons: registering a name twice in one process is an error.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

__all__ = (
    "INSTANCES",
    "QUERIES",
    "QUERY_DURATION",
    "REQUESTS",
    "REQUESTS_IN_FLIGHT",
    "REQUEST_DURATION",
)

REQUESTS: Final = Counter(
    "plutono_plugin_requests_total",
    "gRPC calls handled, by endpoint and gRPC status.",
    ("endpoint", "status"),
)
REQUEST_DURATION: Final = Histogram(
    "plutono_plugin_request_duration_seconds",
    "Time to handle a gRPC call, by endpoint.",
    ("endpoint",),
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REQUESTS_IN_FLIGHT: Final = Gauge(
    "plutono_plugin_requests_in_flight",
    "gRPC calls being handled now, by endpoint.",
    ("endpoint",),
)
QUERIES: Final = Counter(
    "plutono_plugin_queries_total",
    "Queries answered, by query type and outcome (ok or error).",
    ("query_type", "outcome"),
)
QUERY_DURATION: Final = Histogram(
    "plutono_plugin_query_duration_seconds",
    "Time a query handler took, by query type.",
    ("query_type",),
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
INSTANCES: Final = Gauge(
    "plutono_plugin_instances",
    "Per-datasource/app instances alive.",
)
