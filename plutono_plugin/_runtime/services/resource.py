"""``pluginv2.Resource``: CallResource, answered by the plugin's resource router (2.4.4)."""

from __future__ import annotations

from typing import Any

import grpclib.const
from grpclib import GRPCError
from grpclib.const import Status

from ..._asgi import BodyCut
from ..._headers import Headers
from ..._proto import pluginv2
from ...errors import InstanceError
from ...resource import ResourceRequest, ResourceResponse
from ..convert import resource_message_to_proto
from ._common import Core, Stream, handler, receive

__all__ = ("ResourceService",)


class ResourceService(Core):
    """``pluginv2.Resource``: CallResource → :class:`~plutono_plugin.resource.ResourceRouter`."""

    async def call_resource(self, stream: Stream) -> None:
        """Status and headers go in the first message only, later ones carry body chunks (2.4.4)."""
        request = await receive(
            stream, pluginv2.CallResourceRequest, self.plugin.max_receive_message_size
        )
        async with self.tracker.call("callResource", request.plugin_context):
            headers = Headers(
                [(k, v) for k, values in request.headers.items() for v in values.values]
            )
            try:
                async with self.context(request.plugin_context, {}) as context:
                    resource_request = ResourceRequest(
                        method=request.method,
                        path=request.path,
                        url=request.url,
                        headers=headers,
                        body=bytes(request.body),
                        context=context,
                    )
                    response = await self.plugin.resources.dispatch(resource_request)
                    await self._send(stream, response)
            except InstanceError as error:
                failure = ResourceResponse.json({"error": error.message}, status=500)
                await stream.send_message(resource_message_to_proto(failure, bytes(failure.body)))  # type: ignore[arg-type]

    @staticmethod
    async def _send(stream: Stream, response: ResourceResponse) -> None:
        first = True
        try:
            async for chunk in response.iter_chunks():
                if first:
                    await stream.send_message(resource_message_to_proto(response, chunk))
                    first = False
                elif chunk:
                    await stream.send_message(pluginv2.CallResourceResponse(body=chunk))
        except BodyCut as error:
            # Not OK: Plutono appends its error to the partial body (contract 2.4.4), so the
            # browser can tell a cut body from a complete one.
            raise GRPCError(Status.UNKNOWN, str(error)) from None
        finally:
            await response.aclose()
        if first:  # an empty stream still owes the host its status (contract 2.4.4)
            await stream.send_message(resource_message_to_proto(response, b""))

    def __mapping__(self) -> dict[str, Any]:
        return {
            "/pluginv2.Resource/CallResource": handler(
                self.call_resource,
                grpclib.const.Cardinality.UNARY_STREAM,
                pluginv2.CallResourceRequest,
                pluginv2.CallResourceResponse,
            )
        }
