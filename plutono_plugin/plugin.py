"""The :class:`Plugin`: what a plugin author creates, decorates and runs.

Decorators are sugar over explicit registration on the instance (``add_query_route``,
``add_resource_route``, ...): there is no global registry, and each decorator returns the
function unchanged so tests can call handlers directly.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import Any, TypeAlias, TypeVar

from ._asgi import ASGIApp
from ._calls import WorkerThreads
from .diagnostics import HealthCheck
from .instances import InstanceManager
from .options import OptionsDecoder
from .query import QueryHandler, QueryRoute, QueryRouter
from .resource import Mount, ResourceHandler, ResourceRoute, ResourceRouter

__all__ = ("Lifespan", "Plugin")

F = TypeVar("F", bound=Callable[..., Any])

Lifespan: TypeAlias = Callable[["Plugin"], contextlib.AbstractAsyncContextManager[None]]
"""``@asynccontextmanager`` function run around serving: set-up before the handshake,
teardown after the last call."""

MIB = 1024 * 1024

_NO_PARENTHESES = (
    "@plugin.{name} takes the function itself: write '@plugin.{name}' without parentheses "
    "(or call plugin.{name}(function)); got {given!r}"
)


class Plugin:
    """A Plutono backend plugin: handlers for queries, resources, health and instances.

    Example (``my_plugin.py``)::

        from plutono_plugin import Field, Frame, Plugin, Query

        plugin = Plugin()

        @plugin.query("constant")
        async def constant(query: Query) -> Frame:
            return Frame(query.ref_id, [
                Field("time", [query.time_range.start, query.time_range.end]),
                Field("value", [1.0, 1.0]),
            ])

        if __name__ == "__main__":
            plugin.run()

    Launch it as Plutono does with ``python -m plutono_plugin run my_plugin:plugin`` (what the
    launchers made by ``plutono-plugin build`` do), or ``python my_plugin.py``.

    Args:
        max_concurrent_queries: queries of all requests that run at once (default 10).
        shutdown_grace: seconds in-flight calls may take to finish after the host asks the
            plugin to stop, before they are cancelled (default 1.5; the host kills after 2 s).
        max_receive_message_size: largest request accepted, in bytes (default 16 MiB, like the
            Go SDK, contract 5.2); responses are unlimited.
        max_query_response_size: largest encoded answer of one refId, in bytes (default
            64 MiB); above it that refId gets an error naming both sizes, the others answer.
            ``None``: unlimited (the host accepts 2 GiB, contract 1.9).
        max_sync_handlers: worker threads running plain ``def`` handlers at once (default
            16); a thread whose caller gave up keeps its place until it ends, and calls
            beyond the bound wait for a place within their own deadline.
        loop_stall_warning: seconds the event loop may be blocked before a warning names the
            running handler and its stack (default 0.5; ``None`` turns the warnings off; the
            watchdog still bounds a stop while the loop is blocked).
        instance_idle_timeout: seconds an instance may go unused before it is disposed
            (default 3600, like the Go SDK's TTL instance manager; ``None``: kept forever).
        network: ``auto`` (unix socket, TCP fallback), ``unix`` or ``tcp`` (contract 1.5).
        lifespan: an ``@asynccontextmanager`` function taking the plugin (or use
            :meth:`lifespan` as a decorator).
        options: the datasource's typed settings, a dataclass or pydantic model whose fields
            live in ``jsonData`` (:class:`~plutono_plugin.options.Secret` fields in
            ``secureJsonData``); handler and instance factory parameters annotated with it
            receive them, and the generated frontend edits them (:mod:`plutono_plugin.options`).
        query_routes: :class:`~plutono_plugin.query.QueryRoute` objects, the declarative
            form of ``@plugin.query``.
        resource_routes: :class:`~plutono_plugin.resource.ResourceRoute` and
            :class:`~plutono_plugin.resource.Mount` objects, the declarative form of
            ``@plugin.resource`` and :meth:`mount_asgi`.

    """

    def __init__(
        self,
        *,
        max_concurrent_queries: int = 10,
        shutdown_grace: float = 1.5,
        max_receive_message_size: int = 16 * MIB,
        max_query_response_size: int | None = 64 * MIB,
        max_sync_handlers: int = 16,
        loop_stall_warning: float | None = 0.5,
        instance_idle_timeout: float | None = 3600.0,
        network: str = "auto",
        lifespan: Lifespan | None = None,
        options: type[Any] | None = None,
        query_routes: Sequence[QueryRoute] = (),
        resource_routes: Sequence[ResourceRoute | Mount] = (),
    ) -> None:
        if not (0 <= shutdown_grace <= 1.8 and math.isfinite(shutdown_grace)):
            raise ValueError(
                "shutdown_grace must be between 0 and 1.8 seconds: the host kills the plugin "
                "2 s after asking it to stop (contract 1.12)"
            )
        if max_receive_message_size < 1:
            raise ValueError("max_receive_message_size must be positive")
        if max_query_response_size is not None and max_query_response_size < 1:
            raise ValueError("max_query_response_size must be positive (or None)")
        for name, seconds in (
            ("loop_stall_warning", loop_stall_warning),
            ("instance_idle_timeout", instance_idle_timeout),
        ):
            if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
                raise ValueError(f"{name} must be a positive number of seconds (or None)")
        if network not in ("auto", "unix", "tcp"):
            raise ValueError(f"network must be auto, unix or tcp, not {network!r}")
        self.workers = WorkerThreads(max_sync_handlers)
        """The worker threads plain ``def`` handlers run in."""
        self.options = (
            OptionsDecoder(options, idle_timeout=instance_idle_timeout)
            if options is not None
            else None
        )
        """Decodes the typed options of ``Plugin(options=...)`` (``.model`` is the type)."""
        self.queries = QueryRouter(
            query_routes,
            max_concurrency=max_concurrent_queries,
            workers=self.workers,
            options_type=options,
        )
        """The query router (``@plugin.query`` adds to it)."""
        self.resources = ResourceRouter(resource_routes, workers=self.workers, options_type=options)
        """The resource router (``@plugin.resource`` and :meth:`mount_asgi` add to it)."""
        self.health_check: HealthCheck | None = None
        """The ``@plugin.check_health`` handler, if any (default: always OK)."""
        self.instances: InstanceManager[Any] | None = None
        """The per-datasource instance manager, if ``@plugin.instance`` registered a factory."""
        self.shutdown_grace = shutdown_grace
        self.max_receive_message_size = max_receive_message_size
        self.max_query_response_size = max_query_response_size
        self.loop_stall_warning = loop_stall_warning
        self.instance_idle_timeout = instance_idle_timeout
        self.network = network
        self._lifespan: Lifespan | None = None
        if lifespan is not None:
            self.lifespan(lifespan)

    @property
    def options_type(self) -> type[Any] | None:
        """The type given as ``Plugin(options=...)``, if any."""
        return self.options.model if self.options is not None else None

    # -- queries ---------------------------------------------------------------------------

    def add_query_route(
        self,
        query_type: str | None,
        handler: QueryHandler,
        *,
        batch: bool = False,
        timeout: float | None = None,
    ) -> QueryRoute:
        """Register ``handler`` for ``query_type`` (``None``: every type without a route).

        ``batch`` and ``timeout`` as for :meth:`query`; returns the route.
        """
        return self.queries.add_route(query_type, handler, batch=batch, timeout=timeout)

    def query(
        self,
        query_type: str | None = None,
        *,
        batch: bool = False,
        timeout: float | None = None,
    ) -> Callable[[F], F]:
        """Decorator: handle queries of ``query_type``; without it, the fallback for all types.

        ``timeout`` (seconds) turns a slow query into that query's error. With ``batch=True``
        the handler receives ``list[Query]`` and returns a mapping refId → result.
        """
        if callable(query_type):
            raise TypeError("use @plugin.query() or @plugin.query('type'), with parentheses")
        return self.queries.route(query_type, batch=batch, timeout=timeout)

    # -- resources -------------------------------------------------------------------------

    def add_resource_route(
        self, path: str, handler: ResourceHandler, *, methods: Collection[str] = ("GET",)
    ) -> ResourceRoute:
        """Register ``handler`` for ``CallResource`` requests to ``path`` with ``methods``."""
        return self.resources.add_route(path, handler, methods=methods)

    def resource(self, path: str, *, methods: Collection[str] = ("GET",)) -> Callable[[F], F]:
        """Decorator: handle ``/api/datasources/<id>/resources/<path>`` (and app routes).

        ``path`` may hold typed parameters (``items/{item_id}`` with ``item_id: int`` in the
        handler's signature); ``methods`` are the HTTP methods it answers (``GET`` also answers
        ``HEAD``). The handler may also take the request, the
        :class:`~plutono_plugin.context.RequestContext` and ``instance``, as query handlers do.
        """
        return self.resources.route(path, methods=methods)

    def mount_asgi(self, prefix: str, app: ASGIApp) -> Mount:
        """Serve every resource path under ``prefix`` with an ASGI app (Starlette, FastAPI)."""
        return self.resources.mount_asgi(prefix, app)

    # -- health, instances, lifespan ----------------------------------------------------------

    def check_health(self, handler: F | None = None) -> F:
        """Decorator: the health check behind "Save & Test" (default: always OK).

        Written without parentheses (``@plugin.check_health``); the handler may take the
        :class:`~plutono_plugin.context.RequestContext`, the plugin's options and ``instance``.
        """
        if handler is None or not callable(handler):
            raise TypeError(_NO_PARENTHESES.format(name="check_health", given=handler))
        check = HealthCheck(handler, options_type=self.options_type)
        if self.health_check is not None:
            raise ValueError("a health check handler is already registered")
        self.health_check = check
        return handler

    def instance(self, factory: F | None = None) -> F:
        """Decorator: an async factory (or async generator) building per-datasource state.

        Handlers find the result as ``context.instance``; see :mod:`plutono_plugin.instances`.
        The factory takes the settings, the typed options (a parameter annotated with the
        ``Plugin(options=...)`` type), or both.
        """
        if factory is None or not callable(factory):
            raise TypeError(_NO_PARENTHESES.format(name="instance", given=factory))
        if self.instances is not None:
            raise ValueError("an instance factory is already registered")
        self.instances = InstanceManager(
            factory, idle_timeout=self.instance_idle_timeout, options_type=self.options_type
        )
        return factory

    def lifespan(self, function: Lifespan) -> Lifespan:
        """Decorator: an ``@asynccontextmanager`` function run around serving.

        Code before its ``yield`` runs before the handshake; code after it once the last call
        has finished on shutdown.
        """
        if self._lifespan is not None:
            raise ValueError("a lifespan is already registered")
        if not callable(function) or inspect.iscoroutinefunction(function):
            raise TypeError(
                "lifespan must be an @asynccontextmanager function taking the plugin, "
                f"not {function!r}"
            )
        self._lifespan = function
        return function

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Enter the lifespan; on exit, dispose instances and close ASGI tasks."""
        if self.instances is not None and self.instances.closed:
            # Served before (e.g. one module-level plugin in several in-memory test clients):
            # start with a fresh manager, a closed one refuses every call.
            closed = self.instances
            self.instances = InstanceManager(
                closed.factory,
                dispose_timeout=closed.dispose_timeout,
                idle_timeout=closed.idle_timeout,
                options_type=closed.options_type,
            )
        try:
            if self._lifespan is None:
                yield
            else:
                async with self._lifespan(self):
                    yield
        finally:
            await self.resources.aclose()
            if self.instances is not None:
                await self.instances.aclose()

    # -- running ---------------------------------------------------------------------------

    def run(self) -> None:
        """Serve this plugin to the host that started the process; exits the process when done.

        Checks go-plugin's magic cookie and protocol versions first: started by hand, it prints
        go-plugin's "This binary is a plugin" text and exits with status 1.
        """
        from ._runtime.runner import exit_process, run_plugin

        exit_process(run_plugin(self))
