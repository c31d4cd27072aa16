"""Health and metrics: the ``pluginv2.Diagnostics`` service, transport-free.

``CheckHealth`` backs the datasource page's "Save & Test" button: HTTP 200 iff the status is
``OK``, else 503, with ``message`` shown to the user and ``details`` (a JSON object) returned
as-is (contract 2.4.5). ``CollectMetrics`` returns Prometheus text for
``GET /api/plugins/<id>/metrics`` (contract 2.4.6).
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ._binding import Binding, bind_handler
from ._calls import WorkerThreads, invoke, is_cancellation
from .context import RequestContext
from .errors import describe_exception

__all__ = (
    "HealthCheck",
    "HealthCheckHandler",
    "HealthResult",
    "HealthStatus",
    "collect_metrics",
    "run_health_check",
)

_log = logging.getLogger("plutono_plugin.diagnostics")


class HealthStatus(enum.IntEnum):
    """``CheckHealthResponse.HealthStatus`` (contract 3.1)."""

    UNKNOWN = 0
    OK = 1
    ERROR = 2


@dataclass(frozen=True, slots=True)
class HealthResult:
    """A health check's answer.

    Example::

        @plugin.check_health
        async def health(context: RequestContext) -> HealthResult:
            if not context.datasource or not context.datasource.url:
                return HealthResult.error("set the URL of the upstream")
            return HealthResult.ok("upstream reachable", details={"version": "1.2"})
    """

    status: HealthStatus = HealthStatus.OK
    """``OK`` (HTTP 200 on "Save & Test"), ``ERROR`` or ``UNKNOWN`` (HTTP 503)."""
    message: str = ""
    """Shown to the user in the banner."""
    details: Mapping[str, Any] | None = field(default=None)
    """A JSON object returned with the answer (the stock frontend does not show it)."""

    def __post_init__(self) -> None:
        if not isinstance(self.status, HealthStatus):
            # a plain int from a caller that ignored the annotation
            object.__setattr__(self, "status", HealthStatus(self.status))  # type: ignore[unreachable]
        if self.details is not None:
            if not isinstance(self.details, Mapping):
                raise TypeError(
                    "health details must be a JSON object (a mapping), got "
                    f"{type(self.details).__name__} (contract 2.4.5)"
                )
            try:
                json.dumps(self.details, allow_nan=False)
            except (TypeError, ValueError) as error:
                raise TypeError(f"health details are not JSON-serialisable: {error}") from None

    @classmethod
    def ok(cls, message: str = "", *, details: Mapping[str, Any] | None = None) -> HealthResult:
        """Status OK with an optional ``message`` and JSON ``details``."""
        return cls(HealthStatus.OK, message, details)

    @classmethod
    def error(cls, message: str, *, details: Mapping[str, Any] | None = None) -> HealthResult:
        """Status ERROR with a ``message`` for the user and optional JSON ``details``."""
        return cls(HealthStatus.ERROR, message, details)

    @property
    def json_details(self) -> bytes:
        """``details`` as JSON bytes, empty when there are none."""
        if self.details is None:
            return b""
        return json.dumps(self.details, separators=(",", ":")).encode()


HealthCheckHandler: TypeAlias = (
    Callable[..., Awaitable[HealthResult | HealthStatus | None]]
    | Callable[..., HealthResult | HealthStatus | None]
)
"""``async def check(context: RequestContext) -> HealthResult | HealthStatus | None`` (or a
plain ``def``, run in a worker thread)."""


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """A registered health check handler, validated and bound once (``TypeError`` if bad)."""

    handler: HealthCheckHandler
    options_type: type[Any] | None = field(default=None, repr=False)
    """The plugin's typed options: a parameter annotated with it receives them."""
    binding: Binding = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        binding = bind_handler(
            self.handler,
            kind="health check",
            input_types=(),
            allow_model=False,
            options_type=self.options_type,
        )
        if "input" in binding.slots.values():
            raise TypeError(
                f"health check handler {getattr(self.handler, '__qualname__', self.handler)} "
                "takes only the RequestContext (and the plugin's options)"
            )
        object.__setattr__(self, "binding", binding)


async def run_health_check(
    check: HealthCheck | None, context: RequestContext, workers: WorkerThreads | None = None
) -> HealthResult:
    """Run the plugin's health check; the default is OK, an exception is ERROR with its message.

    A plain ``def`` check runs in one of ``workers``' threads.
    """
    if check is None:
        return HealthResult.ok("plugin is running")
    handler = check.handler
    binding = check.binding
    try:
        result = await invoke(
            handler,
            binding.arguments(None, context, None),
            is_async=binding.is_async,
            workers=workers or WorkerThreads(),
            description=f"health check {getattr(handler, '__qualname__', handler)!r}",
        )
    except BaseException as error:  # SystemExit too: ERROR, the process serves on
        if is_cancellation(error):
            raise
        _log.error("health check raised", exc_info=error)
        return HealthResult.error(describe_exception(error))
    if result is None:
        return HealthResult.ok()
    if isinstance(result, HealthStatus):
        return HealthResult(result)
    if isinstance(result, HealthResult):
        return result
    _log.error(  # what a handler returns despite its annotation
        "health check returned %s, expected a HealthResult", type(result).__name__
    )
    return HealthResult.error(
        f"health check returned {type(result).__name__}; expected a HealthResult"
    )


def collect_metrics() -> bytes:
    """Prometheus text of the default registry: process, framework and plugin metrics."""
    from prometheus_client import REGISTRY, generate_latest

    from . import _metrics

    _metrics.create()  # the framework's families appear even before the first call
    return bytes(generate_latest(REGISTRY))
