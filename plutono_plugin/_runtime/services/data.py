"""``pluginv2.Data``: QueryData, answered by the plugin's query router (contract 2.4.1, 5.4)."""

from __future__ import annotations

from typing import Any

import grpclib.const

from ..._proto import pluginv2
from ...errors import InstanceError
from ...query import Query, QueryResponse, encode_response
from ..convert import query_from_proto
from ._common import Core, Stream, handler, receive

__all__ = ("DataService",)


class DataService(Core):
    """``pluginv2.Data``: QueryData → :class:`~plutono_plugin.query.QueryRouter`."""

    async def query_data(self, stream: Stream) -> None:
        """Answer every refId; per-query failures go into that refId's ``error`` (contract 5.4)."""
        request = await receive(
            stream, pluginv2.QueryDataRequest, self.plugin.max_receive_message_size
        )
        async with self.tracker.call("queryData", request.plugin_context):
            queries: list[Query] = []
            refused: dict[str, QueryResponse] = {}
            for message in request.queries:
                try:
                    queries.append(query_from_proto(message))
                except ValueError as error:  # a time range outside datetime's: this refId only
                    refused[message.ref_id] = QueryResponse.failure(f"invalid query: {error}")
            try:
                async with self.context(request.plugin_context, request.headers) as context:
                    results = await self.plugin.queries.dispatch(queries, context)
            except InstanceError as error:
                results = {query.ref_id: QueryResponse.failure(error.message) for query in queries}
            responses: dict[str, pluginv2.DataResponse] = {}
            limit = self.plugin.max_query_response_size
            for ref_id, response in {**refused, **results}.items():
                frames, text = encode_response(response, max_size=limit)
                responses[ref_id] = pluginv2.DataResponse(frames=frames, error=text)
            await stream.send_message(pluginv2.QueryDataResponse(responses=responses))

    def __mapping__(self) -> dict[str, Any]:
        return {
            "/pluginv2.Data/QueryData": handler(
                self.query_data,
                grpclib.const.Cardinality.UNARY_UNARY,
                pluginv2.QueryDataRequest,
                pluginv2.QueryDataResponse,
            )
        }
