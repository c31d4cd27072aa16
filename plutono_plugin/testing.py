"""Test kit for plugin authors: call a plugin in memory, or run its built directory for real.

:class:`PluginTestClient` serves a :class:`~plutono_plugin.plugin.Plugin`'s real gRPC services
over an in-memory channel (grpclib's ``ChannelFor``): the same adapter, dispatch, encoding and
lifespan as in production, without a process or a socket — fast enough for every unit test.
:class:`~plutono_plugin.host.PluginHost` (re-exported here) launches a built plugin directory
exactly as Plutono does, for end-to-end tests. Both offer the same calls.

Every test client starts from fresh plugin state: the decoded options and the instances of
one client are never seen by the next, even for one module-level ``plugin`` shared by a
whole test suite.

Example::

    from plutono_plugin.testing import PluginTestClient, target
    from my_plugin import plugin

    async def test_sine() -> None:
        async with PluginTestClient(plugin, json_data={"city": "berlin"}) as client:
            frames, error = (await client.query(target("A", query_type="sine")))["A"]
            assert error == "" and frames[0].fields[1].name == "value"
            assert (await client.call_resource("GET", "ping")).json() == {"ok": True}
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Literal

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
from .instances import InstanceManager
from .options import OptionsDecoder
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

    Args:
        plugin: the :class:`~plutono_plugin.plugin.Plugin` to serve.
        json_data: the default datasource's ``jsonData`` (what the settings page saves;
            typed options are decoded from it), as for ``PluginHost.start``.
        secure_json_data: the default datasource's decrypted ``secureJsonData``
            (:class:`~plutono_plugin.options.Secret` fields).
        plugin_type: ``"datasource"`` (default) or ``"app"``: which settings the default
            context carries (``json_data`` fills the app settings for an app).
        context: a whole :class:`~plutono_plugin.context.PluginContext` instead of the
            default one (org 1, an admin user ``dev``, datasource id 1 named ``dev``); not
            together with ``json_data``/``secure_json_data``.
        settings: what handlers see as ``context.settings``.
        plugin_config: short for ``settings=Settings(plugin_config=...)``: the ini section
            ``[plugin.<id>]``.
        plugin_id: the plugin id the default context carries.

    Each client serves the plugin with fresh state: options are decoded anew and instances
    built anew, so one test's settings never leak into the next. :meth:`override` swaps an
    instance factory for a fake. Answers that Plutono would handle badly (e.g. a resource
    status it cannot write) are collected in :attr:`problems`.

    Example::

        async with PluginTestClient(plugin, json_data={"url": "http://x"},
                                    secure_json_data={"apiKey": "k"}) as client:
            assert (await client.check_health()).ok

    """

    def __init__(
        self,
        plugin: Plugin,
        *,
        json_data: Mapping[str, Any] | None = None,
        secure_json_data: Mapping[str, str] | None = None,
        plugin_type: Literal["datasource", "app"] = "datasource",
        context: PluginContext | None = None,
        settings: Settings | None = None,
        plugin_config: Mapping[str, str] | None = None,
        plugin_id: str = "test-datasource",
    ) -> None:
        if settings is not None and plugin_config is not None:
            raise TypeError("pass settings or plugin_config, not both")
        if context is not None and (json_data is not None or secure_json_data is not None):
            raise TypeError(
                "pass context or json_data/secure_json_data, not both: the settings are part "
                "of the context (context.datasource.raw_json_data)"
            )
        if plugin_type not in ("datasource", "app"):
            raise ValueError(f"plugin_type must be 'datasource' or 'app', not {plugin_type!r}")
        if not isinstance(plugin, Plugin):
            raise TypeError(f"PluginTestClient takes a Plugin, not {type(plugin).__name__}")
        self.plugin = plugin
        self.settings = settings or Settings(plugin_config=dict(plugin_config or {}))
        self.problems: list[str] = []
        self._stack: contextlib.AsyncExitStack | None = None
        self._overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        if context is None:
            context = default_context(
                plugin_id,
                plugin_type,
                now_ms=1,
                json_data=json_data,
                secure_json_data=secure_json_data,
            )
        super().__init__(
            None,  # type: ignore[arg-type]  # connected in __aenter__
            context,
            self.problems.append,
        )

    def override(self, factory: Callable[..., Any], replacement: object) -> None:
        """Serve ``replacement`` where the plugin's ``@plugin.instance`` ``factory`` would run.

        ``replacement`` is another instance factory (an ``async def`` function or async
        generator, taking what a factory may take), or any other object, which handlers then
        receive as ``instance`` as it is (and which is never closed for them). Call it before
        ``async with``; the plugin itself is not changed (other clients use the real factory).

        Example::

            client = PluginTestClient(plugin, json_data={"url": "http://x"})
            client.override(make_api_client, FakeApiClient())
            async with client:
                ...
        """
        if self._stack is not None:
            raise RuntimeError("override() must be called before the client is entered")
        manager = self.plugin.instances
        if manager is None or manager.factory is not factory:
            registered = "no instance factory" if manager is None else f"{manager.name}"
            raise ValueError(
                f"{getattr(factory, '__qualname__', factory)!r} is not this plugin's instance "
                f"factory (the plugin registers {registered}); override() replaces the "
                "function decorated with @plugin.instance"
            )
        if inspect.iscoroutinefunction(replacement) or inspect.isasyncgenfunction(replacement):
            self._overrides[factory] = replacement
        else:

            async def constant(settings: object) -> AsyncIterator[object]:
                yield replacement  # a generator: the test's object is never closed for it

            constant.__qualname__ = f"override of {manager.name}"
            self._overrides[factory] = constant

    async def __aenter__(self) -> PluginTestClient:
        from grpclib.testing import ChannelFor

        from ._runtime.services import assemble

        stack = contextlib.AsyncExitStack()
        try:
            stack.enter_context(_fresh_state(self.plugin, self._overrides))
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


@contextlib.contextmanager
def _fresh_state(plugin: Plugin, overrides: Mapping[Callable[..., Any], Callable[..., Any]]) -> Any:
    """Serve ``plugin`` with a new options decoder and instance manager, then put back its own.

    Both cache per datasource id and ``lastUpdatedMS``, which tests rarely vary: a shared
    module-level plugin would otherwise hand one test the options of the one before.
    """
    saved_options, saved_instances = plugin.options, plugin.instances
    if saved_options is not None:
        plugin.options = OptionsDecoder(saved_options.model)
    if saved_instances is not None:
        plugin.instances = InstanceManager(
            overrides.get(saved_instances.factory, saved_instances.factory),
            dispose_timeout=saved_instances.dispose_timeout,
            idle_timeout=saved_instances.idle_timeout,
            options_type=saved_instances.options_type,
        )
    try:
        yield
    finally:
        plugin.options, plugin.instances = saved_options, saved_instances
