"""Per-datasource/app instances: shared, rebuilt on settings change, disposed after their users."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator

import anyio
import pytest

from plutono_plugin.context import AppSettings, DataSourceSettings, PluginContext
from plutono_plugin.errors import InstanceError
from plutono_plugin.instances import InstanceManager, InstanceSettings


def datasource(id: int = 1, updated: int = 1_000) -> PluginContext:
    settings = DataSourceSettings(id=id, name=f"ds-{id}", last_updated_ms=updated)
    return PluginContext(org_id=1, plugin_id="acme-datasource", datasource=settings)


def app(org: int = 1, updated: int = 1_000, plugin: str = "acme-app") -> PluginContext:
    return PluginContext(org_id=org, plugin_id=plugin, app=AppSettings(last_updated_ms=updated))


class Resource:
    """Something worth disposing, recording what happens to it."""

    def __init__(self, settings: InstanceSettings, log: list[str]) -> None:
        self.settings = settings
        self.label = (
            f"ds{settings.id}@{settings.last_updated_ms}"
            if isinstance(settings, DataSourceSettings)
            else f"app@{settings.last_updated_ms}"
        )
        self.log = log
        self.closed = asyncio.Event()

    async def aclose(self) -> None:
        self.log.append(f"close {self.label}")
        self.closed.set()


class Recorder:
    """A factory that counts its calls and can be made to wait or fail."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.calls = 0
        self.delay = 0.0
        self.fail_next: Exception | None = None

    async def __call__(self, settings: InstanceSettings) -> Resource:
        self.calls += 1
        await anyio.sleep(self.delay)
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        resource = Resource(settings, self.log)
        self.log.append(f"open {resource.label}")
        return resource


async def wait_closed(resource: Resource) -> None:
    with anyio.fail_after(5):
        await resource.closed.wait()


async def use(manager: InstanceManager[Resource], context: PluginContext) -> Resource:
    async with manager.acquire(context) as instance:
        assert instance is not None
        return instance


async def test_concurrent_first_calls_create_exactly_one_instance() -> None:
    factory = Recorder()
    factory.delay = 0.05
    manager = InstanceManager(factory)
    results = await asyncio.gather(*(use(manager, datasource()) for _ in range(50)))
    assert factory.calls == 1
    assert len({id(instance) for instance in results}) == 1
    assert (manager.created, manager.live) == (1, 1)
    await manager.aclose()


async def test_instances_are_keyed_by_datasource_id() -> None:
    manager = InstanceManager(Recorder())
    first, second, first_again = (
        await use(manager, datasource(1)),
        await use(manager, datasource(2)),
        await use(manager, datasource(1)),
    )
    assert first is first_again
    assert first is not second
    assert manager.live == 2
    await manager.aclose()


async def test_changed_last_updated_rebuilds_and_disposes_the_old_instance() -> None:
    factory = Recorder()
    manager = InstanceManager(factory)
    old = await use(manager, datasource(updated=1_000))
    new = await use(manager, datasource(updated=2_000))
    assert new is not old
    assert new.settings.last_updated_ms == 2_000
    await wait_closed(old)
    assert not new.closed.is_set()
    assert await use(manager, datasource(updated=2_000)) is new
    assert (manager.created, manager.disposed, manager.live) == (2, 1, 1)
    await manager.aclose()


async def test_old_instance_is_disposed_only_after_its_last_user_finishes() -> None:
    factory = Recorder()
    manager = InstanceManager(factory)
    release = asyncio.Event()
    holding = asyncio.Event()

    async def slow_request() -> None:
        async with manager.acquire(datasource(updated=1_000)) as instance:
            assert instance is not None
            holding.set()
            await release.wait()
            factory.log.append("slow request done")

    task = asyncio.create_task(slow_request())
    await holding.wait()
    old = await use(manager, datasource(updated=1_000))
    new = await use(manager, datasource(updated=2_000))
    await anyio.sleep(0.05)
    assert not old.closed.is_set(), "disposed while a request was still using it"
    assert manager.live == 2

    release.set()
    await task
    await wait_closed(old)
    assert factory.log == ["open ds1@1000", "open ds1@2000", "slow request done", "close ds1@1000"]
    assert not new.closed.is_set()
    await manager.aclose()


async def test_aclose_disposes_every_instance_and_refuses_new_calls() -> None:
    factory = Recorder()
    manager = InstanceManager(factory)
    resources = [
        await use(manager, datasource(1)),
        await use(manager, datasource(2)),
        await use(manager, app(org=1)),
    ]
    await manager.aclose()
    assert all(resource.closed.is_set() for resource in resources)
    assert (manager.live, manager.disposed) == (0, 3)
    await manager.aclose()  # idempotent
    assert manager.disposed == 3
    with pytest.raises(InstanceError, match="shutting down"):
        await use(manager, datasource(1))


async def test_aclose_disposes_instances_still_in_use_once() -> None:
    factory = Recorder()
    manager = InstanceManager(factory)
    async with manager.acquire(datasource()) as instance:
        await manager.aclose()
        assert instance is not None
        assert instance.closed.is_set()
    await anyio.sleep(0.01)
    assert manager.disposed == 1
    assert factory.log.count("close ds1@1000") == 1


async def test_factory_failure_is_the_calls_error_and_is_not_cached() -> None:
    factory = Recorder()
    factory.fail_next = ValueError("bad URL 'htp://x'")
    manager = InstanceManager(factory)
    with pytest.raises(InstanceError) as caught:
        await use(manager, datasource(7))
    error = caught.value
    assert "datasource 'ds-7' (id 7)" in str(error)
    assert "ValueError: bad URL 'htp://x'" in str(error)
    assert isinstance(error.__cause__, ValueError)
    assert error.datasource_id == 7
    assert (manager.failed, manager.live) == (1, 0)

    instance = await use(manager, datasource(7))
    assert instance.label == "ds7@1000"
    assert factory.calls == 2
    await manager.aclose()


async def test_waiters_retry_after_a_failed_first_creation() -> None:
    factory = Recorder()
    factory.delay = 0.02
    factory.fail_next = RuntimeError("upstream down")
    manager = InstanceManager(factory)
    results = await asyncio.gather(
        *(use(manager, datasource()) for _ in range(5)), return_exceptions=True
    )
    errors = [result for result in results if isinstance(result, InstanceError)]
    instances = {id(result) for result in results if isinstance(result, Resource)}
    assert len(errors) == 1
    assert len(instances) == 1
    assert factory.calls == 2
    await manager.aclose()


async def test_cancelled_creation_leaves_nothing_behind() -> None:
    factory = Recorder()
    factory.delay = 10
    manager = InstanceManager(factory)
    task = asyncio.create_task(use(manager, datasource()))
    await anyio.sleep(0.02)
    assert factory.calls == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (manager.created, manager.live) == (0, 0)

    factory.delay = 0
    instance = await use(manager, datasource())
    assert factory.calls == 2
    assert manager.live == 1
    await manager.aclose()
    assert instance.closed.is_set()


async def test_async_generator_factory_cleanup_runs_at_disposal() -> None:
    log: list[str] = []
    first_disconnected = asyncio.Event()

    async def connection(settings: DataSourceSettings) -> AsyncIterator[str]:
        log.append(f"connect {settings.last_updated_ms}")
        try:
            yield f"connection {settings.last_updated_ms}"
        finally:
            log.append(f"disconnect {settings.last_updated_ms}")
            if settings.last_updated_ms == 1:
                first_disconnected.set()

    manager = InstanceManager(connection)
    async with manager.acquire(datasource(updated=1)) as first:
        assert first == "connection 1"
        async with manager.acquire(datasource(updated=2)) as second:
            assert second == "connection 2"
        assert log == ["connect 1", "connect 2"]
    with anyio.fail_after(5):
        await first_disconnected.wait()
    await manager.aclose()
    assert log == ["connect 1", "connect 2", "disconnect 1", "disconnect 2"]


async def test_generator_factory_failure_before_yield() -> None:
    async def broken(settings: InstanceSettings) -> AsyncIterator[int]:
        if not settings.raw_json_data:
            raise ConnectionRefusedError("no route")
        yield 1

    manager = InstanceManager(broken)
    with pytest.raises(InstanceError, match="ConnectionRefusedError: no route"):
        async with manager.acquire(datasource()):
            pass
    assert manager.live == 0


async def test_app_calls_are_keyed_by_plugin_and_org() -> None:
    manager = InstanceManager(Recorder())
    org1 = await use(manager, app(org=1))
    org2 = await use(manager, app(org=2))
    assert org1 is not org2
    assert await use(manager, app(org=1)) is org1
    assert await use(manager, app(org=1, plugin="other-app")) is not org1
    # An app with no settings row always reports Go's zero time (contract 2.4.4): still cached.
    unset = await use(manager, app(org=3, updated=-6795364578871))
    assert await use(manager, app(org=3, updated=-6795364578871)) is unset
    await manager.aclose()


async def test_calls_without_settings_get_none_and_create_nothing() -> None:
    factory = Recorder()
    manager = InstanceManager(factory)
    async with manager.acquire(PluginContext(org_id=1, plugin_id="acme")) as instance:
        assert instance is None
    assert factory.calls == 0
    await manager.aclose()


async def test_settings_annotation_chooses_the_calls_served() -> None:
    async def datasource_only(settings: DataSourceSettings) -> str:
        return f"ds {settings.id}"

    async def app_only(settings: AppSettings) -> str:
        return "app"

    for_datasources = InstanceManager(datasource_only)
    async with for_datasources.acquire(app()) as nothing:
        assert nothing is None
    async with for_datasources.acquire(datasource(3)) as value:
        assert value == "ds 3"

    for_apps = InstanceManager(app_only)
    async with for_apps.acquire(datasource(3)) as nothing:
        assert nothing is None
    async with for_apps.acquire(app()) as value:
        assert value == "app"
    await for_datasources.aclose()
    await for_apps.aclose()


async def test_plain_objects_are_closed_with_close_sync_or_async() -> None:
    closed: list[str] = []

    class SyncClosing:
        def close(self) -> None:
            closed.append("sync")

    class AsyncClosing:  # like aiohttp.ClientSession: close() is a coroutine
        async def close(self) -> None:
            closed.append("async")

    async def make_sync(settings: InstanceSettings) -> SyncClosing:
        return SyncClosing()

    async def make_async(settings: InstanceSettings) -> AsyncClosing:
        return AsyncClosing()

    async def make_plain(settings: InstanceSettings) -> dict[str, int]:
        return {"nothing to close": 1}

    sync_closing = InstanceManager(make_sync)
    async with sync_closing.acquire(datasource()):
        pass
    await sync_closing.aclose()
    async_closing = InstanceManager(make_async)
    async with async_closing.acquire(datasource()):
        pass
    await async_closing.aclose()
    plain = InstanceManager(make_plain)
    async with plain.acquire(datasource()):
        pass
    await plain.aclose()
    assert closed == ["sync", "async"]
    assert plain.disposed == 1


async def test_disposal_errors_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Flaky:
        async def aclose(self) -> None:
            raise OSError("socket already gone")

    async def make(settings: InstanceSettings) -> Flaky:
        return Flaky()

    manager = InstanceManager(make)
    async with manager.acquire(datasource(updated=1)):
        pass
    async with manager.acquire(datasource(updated=2)) as replacement:
        assert isinstance(replacement, Flaky)  # the request is unaffected by the failed disposal
    with caplog.at_level(logging.ERROR, logger="plutono_plugin.instances"):
        await manager.aclose()
    failures = [record for record in caplog.records if "failed" in record.getMessage()]
    assert len(failures) == 2
    assert "datasource 'ds-1' (id 1)" in failures[0].getMessage()
    assert manager.live == 0


async def test_hanging_disposal_is_abandoned_after_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Hanging:
        async def aclose(self) -> None:
            await anyio.sleep_forever()

    async def make(settings: InstanceSettings) -> Hanging:
        return Hanging()

    manager = InstanceManager(make, dispose_timeout=0.05)
    async with manager.acquire(datasource()):
        pass
    with anyio.fail_after(5), caplog.at_level(logging.ERROR, logger="plutono_plugin.instances"):
        await manager.aclose()
    assert "took longer than 0.05s" in caplog.text


async def test_factory_returning_none_is_an_error() -> None:
    async def forgot_return(settings: InstanceSettings) -> None:
        settings.json_data  # noqa: B018

    manager = InstanceManager(forgot_return)
    with pytest.raises(InstanceError, match=r"forgot_return.* returned None"):
        async with manager.acquire(datasource()):
            pass
    assert manager.live == 0
    await manager.aclose()


async def test_generator_yielding_none_is_an_error_and_is_finished() -> None:
    finished: list[str] = []

    async def bare_yield(settings: InstanceSettings) -> AsyncIterator[None]:
        try:
            yield
        finally:
            finished.append("cleanup")

    manager = InstanceManager(bare_yield)
    with pytest.raises(InstanceError, match=r"bare_yield yielded None"):
        async with manager.acquire(datasource()):
            pass
    assert finished == ["cleanup"]
    assert (manager.live, manager.failed) == (0, 1)


def test_factory_must_be_async() -> None:
    def sync_factory(settings: InstanceSettings) -> int:
        return 1

    with pytest.raises(TypeError, match=r"sync_factory must be an `async def`"):
        InstanceManager(sync_factory)  # type: ignore[arg-type]


def test_factory_must_take_one_settings_argument() -> None:
    async def two(settings: InstanceSettings, extra: int) -> int:
        return extra

    with pytest.raises(TypeError, match=r"two must take exactly one positional argument"):
        InstanceManager(two)  # type: ignore[arg-type]


def test_factory_settings_annotation_must_be_a_settings_type() -> None:
    async def wrong(settings: dict[str, str]) -> int:
        return 1

    with pytest.raises(TypeError, match=r"wrong: parameter 'settings' is annotated"):
        InstanceManager(wrong)  # type: ignore[arg-type]


async def test_partial_and_callable_object_factories_are_accepted() -> None:
    async def labelled(label: str, settings: InstanceSettings) -> str:
        return label

    manager = InstanceManager(functools.partial(labelled, "partial"))
    async with manager.acquire(datasource()) as value:
        assert value == "partial"
    await manager.aclose()
    assert isinstance(await use(InstanceManager(Recorder()), datasource()), Resource)


async def test_instances_unused_for_the_idle_timeout_are_disposed_and_rebuilt_on_demand() -> None:
    recorder = Recorder()
    manager = InstanceManager(recorder, idle_timeout=0.2)
    first = await use(manager, datasource(1))
    busy = datasource(2)
    async with manager.acquire(busy):  # in use the whole time: never evicted
        await wait_closed(first)
        assert recorder.log == ["open ds1@1000", "open ds2@1000", "close ds1@1000"]
        assert manager.live == 1
    again = await use(manager, datasource(1))
    assert again is not first and manager.created == 3
    await manager.aclose()
    assert manager.live == 0


async def test_instances_in_steady_use_are_never_evicted() -> None:
    recorder = Recorder()
    manager = InstanceManager(recorder, idle_timeout=0.3)
    first = await use(manager, datasource(1))
    for _ in range(12):
        await anyio.sleep(0.05)
        assert await use(manager, datasource(1)) is first
    assert recorder.log == ["open ds1@1000"]
    await manager.aclose()
