"""Per-datasource (and per-app) instances: state built once from the settings, reused by every call.

A plugin registers one async factory (``@plugin.instance`` is sugar for constructing an
:class:`InstanceManager`); the framework acquires the instance for each call and hands it to the
handler as ``ctx.instance``. The lifecycle mirrors the Go SDK's ``instancemgmt`` (contract 5.7):

* **Keying.** Datasource calls are keyed by the datasource id (Plutono 7.5 never sends a uid,
  contract 2.4.1); app calls by ``(plugin id, org id)`` because app settings are per org
  (contract 2.4.4). A call with neither gets ``None``.
* **Rebuild.** When a call arrives whose ``lastUpdatedMS`` differs from the one the cached
  instance was built from, or whose settings differ within the same ``lastUpdatedMS``
  (:func:`settings_fingerprint`), a new instance is built and replaces it.
* **Disposal.** A replaced instance is disposed only after the last call using it has finished;
  :meth:`InstanceManager.aclose` disposes everything at shutdown. Disposal runs in its own task,
  never delays or fails a request, and its errors — ``SystemExit`` and ``KeyboardInterrupt``
  included, which must not end the process — are logged to ``plutono_plugin.instances``.
* **Idle eviction.** An instance no call has used for ``idle_timeout`` seconds (default one
  hour, ``Plugin(instance_idle_timeout=...)``) is disposed, so instances of deleted or
  forgotten datasources do not live as long as the process; the next call builds a new one.
  SDK v0.88's manager keeps instances forever; later SDKs offer a TTL manager (one hour since
  creation) — idle time is the better signal, since a busy instance is never torn down.
* **Exactly once.** A per-key lock makes concurrent first calls share one creation.
* **Failures.** A factory exception becomes that call's
  :class:`~plutono_plugin.errors.InstanceError` (chained from the original); nothing is cached,
  so the next call tries again.

Two factory forms are accepted:

* an **async generator** that yields the instance once — cleanup after ``yield`` runs at
  disposal, so ``async with`` resources need no extra code (the recommended form);
* an **async function** returning the instance — disposal awaits ``instance.aclose()`` if it
  exists, else calls ``instance.close()`` (awaiting the result if it is awaitable), else does
  nothing. Returned objects are used as they are: the manager never enters an async context
  manager for you; write the generator form for that.

A factory must produce an instance: returning (or yielding) ``None`` is reported as an
:class:`~plutono_plugin.errors.InstanceError` because it is almost always a missing ``return``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
import types
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar, cast

import anyio

from ._binding import Binding, bind_handler
from ._calls import is_cancellation
from .context import AppSettings, DataSourceSettings, PluginContext
from .errors import InstanceError

__all__ = ("InstanceFactory", "InstanceManager", "InstanceSettings")

T = TypeVar("T")

InstanceSettings: TypeAlias = DataSourceSettings | AppSettings
"""What a factory receives: the settings of the datasource or of the app the call is for."""

InstanceFactory: TypeAlias = (
    Callable[[DataSourceSettings], Awaitable[T]]
    | Callable[[AppSettings], Awaitable[T]]
    | Callable[[DataSourceSettings], AsyncIterator[T]]
    | Callable[[AppSettings], AsyncIterator[T]]
)
"""An ``async def`` function or async generator function taking the settings.

The settings parameter's annotation chooses which calls get an instance: ``DataSourceSettings``
(datasource calls only), ``AppSettings`` (app calls only), or their union / no annotation (both).
"""

logger = logging.getLogger("plutono_plugin.instances")

_Key: TypeAlias = tuple[str, str, int]
_Version: TypeAlias = tuple[int, bytes]
_Closer: TypeAlias = Callable[[], Awaitable[object]]
_KINDS = {DataSourceSettings: "datasource", AppSettings: "app"}


@dataclass(frozen=True, slots=True)
class _Target:
    key: _Key
    version: _Version
    settings: InstanceSettings
    description: str
    datasource_id: int | None
    options: object = None


@dataclass(eq=False)
class _Entry(Generic[T]):
    key: _Key
    version: _Version
    instance: T
    close: _Closer
    description: str
    users: int = 0
    retired: bool = False
    last_used: float = field(default_factory=time.monotonic)
    disposal: asyncio.Task[None] | None = field(default=None, repr=False)


def settings_fingerprint(settings: InstanceSettings) -> bytes:
    """A digest of everything a saved change can alter, besides ``lastUpdatedMS``.

    Plutono stores a datasource's ``updated`` time in whole seconds, so two saves within one
    second carry the same ``lastUpdatedMS`` (issue 16): the digest of ``jsonData``, the secure
    fields' names and values and the datasource's own fields tells them apart. Only the digest
    is kept, never the values, and it is never logged.
    """
    import hashlib  # on the first call, not in every cold start (~1 ms, docs/benchmarks.md)

    digest = hashlib.blake2b(digest_size=16, person=b"plutono-settings")

    def add(part: bytes | str) -> None:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    if isinstance(settings, DataSourceSettings):
        for part in (settings.name, settings.url, settings.user, settings.database):
            add(part)
        add(settings.basic_auth_user)
        add(b"1" if settings.basic_auth_enabled else b"0")
    add(settings.raw_json_data)
    secrets = settings.decrypted_secure_json_data
    for name in sorted(secrets):
        add(name)
        add(secrets[name])
    return digest.digest()


def _function_name(factory: object) -> str:
    return getattr(factory, "__qualname__", None) or repr(factory)


def _bind_factory(
    factory: object, name: str, options_type: type[Any] | None
) -> tuple[Binding, frozenset[str]]:
    """Validate the factory's signature; return its binding and the call kinds it accepts.

    It takes the settings, the plugin's typed options (a parameter annotated with the type given
    as ``Plugin(options=...)``; datasource calls only), or both.
    """
    if options_type is None:
        try:
            inspect.signature(cast(Callable[..., object], factory)).bind(object())
        except (TypeError, ValueError):
            raise TypeError(
                f"instance factory {name} must take exactly one positional argument (the settings)"
            ) from None
    binding = bind_handler(
        cast(Callable[..., object], factory),
        kind="instance factory",
        input_types=(DataSourceSettings, AppSettings, Any, object),
        allow_context=False,
        check_async=False,
        options_type=options_type,
    )
    slots = list(binding.slots.values())
    if not slots or len(slots) != len(set(slots)):
        what = "the settings" if options_type is None else "the settings and/or the options"
        raise TypeError(f"instance factory {name} must take {what}, one parameter each")
    parameter = binding.parameter("input")
    if parameter is None:
        return binding, frozenset({"datasource"})
    annotation = binding.annotations.get(parameter, Any)
    if annotation in (Any, object, inspect.Parameter.empty):
        kinds = frozenset(_KINDS.values())
    else:
        is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        members = typing.get_args(annotation) if is_union else (annotation,)
        kinds = frozenset(_KINDS[member] for member in members if member in _KINDS)
    if binding.parameter("options") is not None:
        kinds &= {"datasource"}
    return binding, kinds


async def _close_object(instance: object) -> None:
    """Dispose an instance returned by a plain async factory (see the module docstring)."""
    closer = getattr(instance, "aclose", None)
    if not callable(closer):
        closer = getattr(instance, "close", None)
    if callable(closer):
        result = closer()
        if inspect.isawaitable(result):
            await result


class InstanceManager(Generic[T]):
    """Build, share, rebuild and dispose the instances a factory makes from settings.

    Example::

        async def client(settings: DataSourceSettings) -> AsyncIterator[httpx.AsyncClient]:
            async with httpx.AsyncClient(base_url=settings.url) as http:
                yield http

        manager = InstanceManager(client)
        async with manager.acquire(plugin_context) as http:
            ...  # http is None when the call has no datasource settings
        await manager.aclose()

    ``created``, ``disposed`` and ``failed`` count factory successes, disposals and factory
    failures; :attr:`live` is the number of instances not yet disposed.
    """

    def __init__(
        self,
        factory: InstanceFactory[T],
        *,
        dispose_timeout: float = 10.0,
        idle_timeout: float | None = 3600.0,
        options_type: type[Any] | None = None,
    ) -> None:
        name = _function_name(factory)
        if not callable(factory):
            raise TypeError(f"instance factory {name} is not callable")
        # A callable object is judged by its __call__; functions and partials by themselves.
        plain = inspect.isroutine(factory) or isinstance(factory, functools.partial)
        call: object = factory if plain else cast(Any, factory).__call__
        self._generator = inspect.isasyncgenfunction(factory) or inspect.isasyncgenfunction(call)
        coroutine = inspect.iscoroutinefunction(factory) or inspect.iscoroutinefunction(call)
        if not (self._generator or coroutine):
            raise TypeError(
                f"instance factory {name} must be an `async def` function or async generator, "
                f"got a plain {type(factory).__name__}"
            )
        self.factory = factory
        self.name = name
        self.dispose_timeout = dispose_timeout
        self.idle_timeout = idle_timeout
        self._sweeper: asyncio.Task[None] | None = None
        self.options_type = options_type
        self._binding, self._kinds = _bind_factory(factory, name, options_type)
        self._current: dict[_Key, _Entry[T]] = {}
        self._retired: set[_Entry[T]] = set()
        self._locks: dict[_Key, anyio.Lock] = {}
        self._disposals: set[asyncio.Task[None]] = set()
        self._closed = False
        self.created = 0
        self.disposed = 0
        self.failed = 0

    def __repr__(self) -> str:
        return f"InstanceManager({self.name}, live={self.live})"

    @property
    def live(self) -> int:
        """Number of instances created and not yet disposed (current and retired)."""
        return self.created - self.disposed

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` has been called."""
        return self._closed

    @asynccontextmanager
    async def acquire(
        self, context: PluginContext, options: object = None
    ) -> AsyncIterator[T | None]:
        """Yield the instance for the call's datasource or app, creating it if needed.

        ``options`` are the datasource's typed options, for a factory that asks for them.
        Yields ``None`` when the call has no settings of a kind the factory accepts. Raises
        :class:`InstanceError` when the factory fails or the manager is closed.
        """
        target = self._target(context, options)
        if target is None:
            yield None
            return
        entry = await self._checkout(target)
        # No await between the checkout and this try: a cancellation cannot leak a user count.
        try:
            yield entry.instance
        finally:
            entry.last_used = time.monotonic()
            entry.users -= 1
            if entry.retired and entry.users == 0:
                self._schedule_disposal(entry)

    async def aclose(self) -> None:
        """Dispose every instance and wait for all disposals; idempotent, never raises.

        In-flight users are not waited for: at shutdown their calls have finished or been
        cancelled. Later :meth:`acquire` calls raise :class:`InstanceError`.
        """
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        entries = [*self._current.values(), *self._retired]
        self._current.clear()
        self._retired.clear()
        self._locks.clear()
        for entry in entries:
            entry.retired = True
            self._schedule_disposal(entry)
        while self._disposals:
            await asyncio.wait(set(self._disposals))

    def _is_closed(self) -> bool:
        # A method, not the attribute, so type narrowing does not survive the awaits around it.
        return self._closed

    def _target(self, context: PluginContext, options: object) -> _Target | None:
        datasource = context.datasource
        if datasource is not None and "datasource" in self._kinds:
            return _Target(
                key=("datasource", "", datasource.id),
                version=(datasource.last_updated_ms, settings_fingerprint(datasource)),
                settings=datasource,
                description=f"datasource {datasource.name!r} (id {datasource.id})",
                datasource_id=datasource.id,
                options=options,
            )
        app = context.app
        if app is not None and "app" in self._kinds:
            return _Target(
                key=("app", context.plugin_id, context.org_id),
                version=(app.last_updated_ms, settings_fingerprint(app)),
                settings=app,
                description=f"app {context.plugin_id!r} (org {context.org_id})",
                datasource_id=None,
            )
        return None

    def _closed_error(self, target: _Target) -> InstanceError:
        return InstanceError(
            f"no instance for {target.description}: the plugin is shutting down",
            datasource_id=target.datasource_id,
        )

    def _start_sweeper(self) -> None:
        if self._sweeper is None and self.idle_timeout is not None:
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep(self.idle_timeout), name=f"evict idle instances of {self.name}"
            )

    async def _sweep(self, idle_timeout: float) -> None:
        """Dispose instances unused for ``idle_timeout`` seconds, checking twice per period."""
        while not self._closed:
            await anyio.sleep(min(idle_timeout / 2, 60.0))
            now = time.monotonic()
            for key, entry in list(self._current.items()):
                if entry.users == 0 and now - entry.last_used >= idle_timeout:
                    del self._current[key]
                    self._locks.pop(key, None)
                    entry.retired = True
                    logger.debug("disposing the idle instance of %s", entry.description)
                    self._schedule_disposal(entry)

    async def _checkout(self, target: _Target) -> _Entry[T]:
        if self._closed:
            raise self._closed_error(target)
        self._start_sweeper()
        entry = self._current.get(target.key)
        if entry is not None and entry.version == target.version:
            entry.users += 1
            entry.last_used = time.monotonic()
            return entry
        lock = self._locks.setdefault(target.key, anyio.Lock())
        async with lock:
            if self._is_closed():
                raise self._closed_error(target)
            entry = self._current.get(target.key)
            if entry is not None and entry.version == target.version:
                entry.users += 1
                return entry
            created = await self._create(target)
            if self._is_closed():  # aclose ran while the factory was working
                created.retired = True
                self._schedule_disposal(created)
                raise self._closed_error(target)
            created.users += 1
            self._current[target.key] = created
            if entry is not None:  # contract 5.7: changed lastUpdatedMS replaces the instance
                entry.retired = True
                if entry.users == 0:
                    self._schedule_disposal(entry)
                else:
                    self._retired.add(entry)
            return created

    async def _create(self, target: _Target) -> _Entry[T]:
        what = "yielded" if self._generator else "returned"
        try:
            if self._generator:
                opener = asynccontextmanager(cast(Callable[..., AsyncIterator[T]], self.factory))
                context = opener(**self._arguments(target))
                instance = await context.__aenter__()
                close: _Closer = lambda: context.__aexit__(None, None, None)  # noqa: E731
            else:
                function = cast(Callable[..., Awaitable[T]], self.factory)
                instance = await function(**self._arguments(target))
                close = lambda: _close_object(instance)  # noqa: E731
        except BaseException as error:  # SystemExit too: this call's error, retried next time
            if is_cancellation(error):
                raise
            self.failed += 1
            raise InstanceError(
                f"cannot create the instance for {target.description}: "
                f"{type(error).__name__}: {error}",
                datasource_id=target.datasource_id,
            ) from error
        if cast(object, instance) is None:
            self.failed += 1
            await self._close(close, target.description)
            raise InstanceError(
                f"cannot create the instance for {target.description}: factory {self.name} "
                f"{what} None (missing `{'yield' if self._generator else 'return'}` value?)",
                datasource_id=target.datasource_id,
            )
        self.created += 1
        return _Entry(target.key, target.version, instance, close, target.description)

    def _arguments(self, target: _Target) -> dict[str, Any]:
        return self._binding.arguments(target.settings, None, options=target.options)

    def _schedule_disposal(self, entry: _Entry[T]) -> None:
        if entry.disposal is None:
            # Its own task: a cancelled request cannot interrupt it, and aclose waits for it.
            task = asyncio.get_running_loop().create_task(
                self._dispose(entry), name=f"dispose instance of {entry.description}"
            )
            entry.disposal = task
            self._disposals.add(task)
            task.add_done_callback(self._disposals.discard)

    async def _dispose(self, entry: _Entry[T]) -> None:
        try:
            await self._close(entry.close, entry.description)
        finally:
            self.disposed += 1
            self._retired.discard(entry)

    async def _close(self, close: _Closer, description: str) -> None:
        """Run one disposal, bounded by ``dispose_timeout``; log failures, never raise them."""
        try:
            with anyio.fail_after(self.dispose_timeout):
                await close()
        except TimeoutError:
            logger.error(
                "disposing the instance of %s took longer than %ss; abandoned",
                description,
                self.dispose_timeout,
            )
        except BaseException as error:
            # SystemExit or KeyboardInterrupt from a teardown would end the process (asyncio
            # re-raises them out of the loop): logged like any failure, the process serves on.
            if is_cancellation(error):
                raise
            logger.error("disposing the instance of %s failed", description, exc_info=error)
