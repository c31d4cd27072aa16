"""Test kit for plugin authors: call a plugin in memory, or run its built directory for real.

:class:`PluginTestClient` serves a :class:`~plutono_plugin.plugin.Plugin`'s real gRPC services
over an in-memory channel (grpclib's ``ChannelFor``): the same adapter, dispatch, encoding and
lifespan as in production, without a process or a socket — fast enough for every unit test.
:class:`~plutono_plugin.host.PluginHost` (re-exported here) launches a built plugin directory
exactly as Plutono does, for end-to-end tests. Both offer the same calls.

Example::

    from plutono_plugin.testing import PluginTestClient, target
    from my_plugin import plugin

    async def test_sine() -> None:
        async with PluginTestClient(plugin) as client:
            frames, error = (await client.query(target("A", query_type="sine")))["A"]
            assert error == "" and frames[0].fields[1].name == "value"
            assert (await client.call_resource("GET", "ping")).json() == {"ok": True}
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import TracebackType

from ._host.client import (
    CallError,
    HealthReply,
    PluginClient,
    QueryReply,
    RawQueryReply,
    ResourceReply,
    target,
)
from ._host.requests import default_context
from .context import PluginContext
from .host import PluginHost
from .plugin import Plugin
from .settings import Settings

__all__ = (
    "CallError",
    "HealthReply",
    "PluginHost",
    "PluginTestClient",
    "QueryReply",
    "RawQueryReply",
    "ResourceReply",
    "target",
)


class PluginTestClient(PluginClient):
    """Call ``plugin`` in memory through its real services; ``async with`` runs its lifespan.

    ``context`` is the default plugin context (a datasource with id 1 named ``dev``, an admin
    user); ``settings`` what the handlers see as ``context.settings`` (``plugin_config`` stands
    for the ``[plugin.<id>]`` ini section). Answers that Plutono would handle badly (e.g. a
    resource status it cannot write) are collected in :attr:`problems`.

    Example::

        async with PluginTestClient(plugin, plugin_config={"api_url": "http://x"}) as client:
            assert (await client.check_health()).ok
    """

    def __init__(
        self,
        plugin: Plugin,
        *,
        context: PluginContext | None = None,
        settings: Settings | None = None,
        plugin_config: Mapping[str, str] | None = None,
        plugin_id: str = "test-datasource",
    ) -> None:
        if settings is not None and plugin_config is not None:
            raise TypeError("pass settings or plugin_config, not both")
        self.plugin = plugin
        self.settings = settings or Settings(plugin_config=dict(plugin_config or {}))
        self.problems: list[str] = []
        self._stack: contextlib.AsyncExitStack | None = None
        super().__init__(
            None,  # type: ignore[arg-type]  # connected in __aenter__
            context or default_context(plugin_id, "datasource", now_ms=1),
            self.problems.append,
        )

    async def __aenter__(self) -> PluginTestClient:
        from grpclib.testing import ChannelFor

        from ._runtime.services import assemble

        stack = contextlib.AsyncExitStack()
        try:
            served = await stack.enter_async_context(assemble(self.plugin, self.settings))
            channel = ChannelFor(served.services, codec=served.codec)
            self.channel = await stack.enter_async_context(channel)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    def __repr__(self) -> str:
        state = "open" if self._stack is not None else "closed"
        return f"<PluginTestClient {state} for {self.plugin!r}>"
