"""``pluginv2.Diagnostics``: CheckHealth and CollectMetrics (contract 2.4.5, 2.4.6)."""

from __future__ import annotations

from typing import Any

import grpclib.const

from ... import _metrics
from ..._proto import pluginv2
from ...diagnostics import HealthStatus, collect_metrics, run_health_check
from ...errors import InstanceError
from ..transport import receive_limited
from ._common import CONTROL_MESSAGE_LIMIT, Core, Stream, handler, receive

__all__ = ("DiagnosticsService",)


class DiagnosticsService(Core):
    """``pluginv2.Diagnostics``: CheckHealth and CollectMetrics; always registered (5.1)."""

    async def check_health(self, stream: Stream) -> None:
        """Run the health check; an instance that cannot be built is an ERROR result."""
        request = await receive(
            stream, pluginv2.CheckHealthRequest, self.plugin.max_receive_message_size
        )
        async with self.tracker.call("checkHealth", request.plugin_context):
            try:
                async with self.context(request.plugin_context, {}) as context:
                    result = await run_health_check(
                        self.plugin.health_check, context, self.plugin.workers
                    )
                status, message, details = result.status, result.message, result.json_details
            except InstanceError as error:
                status, message, details = HealthStatus.ERROR, error.message, b""
            await stream.send_message(
                pluginv2.CheckHealthResponse(
                    status=pluginv2.CheckHealthResponseHealthStatus(int(status)),
                    message=message,
                    json_details=details,
                )
            )

    async def collect_metrics(self, stream: Stream) -> None:
        """Prometheus text of the process (contract 2.4.6)."""
        await receive_limited(stream, pluginv2.CollectMetricsRequest, CONTROL_MESSAGE_LIMIT)
        async with self.tracker.call("collectMetrics"):
            manager = self.plugin.instances
            _metrics.INSTANCES.set(manager.live if manager is not None else 0)
            payload = pluginv2.CollectMetricsResponsePayload(prometheus=collect_metrics())
            await stream.send_message(pluginv2.CollectMetricsResponse(metrics=payload))

    def __mapping__(self) -> dict[str, Any]:
        unary = grpclib.const.Cardinality.UNARY_UNARY
        return {
            "/pluginv2.Diagnostics/CheckHealth": handler(
                self.check_health,
                unary,
                pluginv2.CheckHealthRequest,
                pluginv2.CheckHealthResponse,
            ),
            "/pluginv2.Diagnostics/CollectMetrics": handler(
                self.collect_metrics,
                unary,
                pluginv2.CollectMetricsRequest,
                pluginv2.CollectMetricsResponse,
            ),
        }
