"""How handlers are called: sync ones in threads, log context, bounded metric labels."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator

import anyio
import pytest

from plutono_plugin import Field, Frame, HealthResult, Plugin, Query, RequestContext
from plutono_plugin._calls import WorkerThreads
from plutono_plugin._runtime.hclog import HclogFormatter
from plutono_plugin.query import UNREGISTERED_LABEL
from plutono_plugin.testing import PluginTestClient, target


class Collect(logging.Handler):
    """Every record formatted as the host would receive it (one hclog JSON object)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(HclogFormatter())
        self.records: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(json.loads(self.format(record)))


@pytest.fixture
def logs() -> Iterator[Collect]:
    handler = Collect()
    logger = logging.getLogger("tests.calls")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def test_sync_handlers_run_in_worker_threads_without_blocking_the_loop() -> None:
    plugin = Plugin(max_sync_handlers=4)
    threads: set[int] = set()

    @plugin.query("blocking")
    def blocking(query: Query) -> Frame:
        threads.add(threading.get_ident())
        time.sleep(0.2)  # a blocking client library
        return Frame("", [Field("value", [1.0])])

    @plugin.check_health
    def health(context: RequestContext) -> HealthResult:
        return HealthResult.ok("from a thread")

    async with PluginTestClient(plugin) as client:
        began = time.monotonic()
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                for ref_id in "ABCD":
                    group.start_soon(client.query, target(ref_id, query_type="blocking"))
                # The loop stays free while four threads sleep: health answers at once.
                health_began = time.monotonic()
                assert (await client.check_health()).message == "from a thread"
                assert time.monotonic() - health_began < 0.15
        assert time.monotonic() - began < 0.6  # in parallel, not 4 x 0.2 s
        assert threading.main_thread().ident not in threads and len(threads) >= 2


def test_worker_threads_serve_one_event_loop_after_another() -> None:
    # The slot semaphore was made once: after it had made a call wait in one loop, a wait in
    # the next loop (a test client per test, one module-level plugin) raised RuntimeError.
    workers = WorkerThreads(1)

    def slow() -> int:
        time.sleep(0.02)
        return 1

    async def three_at_once() -> list[int]:
        return list(await asyncio.gather(*(workers.run(slow) for _ in "abc")))

    assert asyncio.run(three_at_once()) == [1, 1, 1]
    assert asyncio.run(three_at_once()) == [1, 1, 1]


async def test_every_record_of_a_call_carries_its_context(logs: Collect) -> None:
    plugin = Plugin()
    logger = logging.getLogger("tests.calls")

    @plugin.query("talk")
    async def talk(query: Query) -> None:
        logger.info("talking", extra={"refId": "mine"})
        logger.info("plain")

    @plugin.query("sync_talk")
    def sync_talk(query: Query) -> None:
        logger.warning("from a thread")

    async with PluginTestClient(plugin) as client:
        await client.query(target("A", query_type="talk"), target("B", query_type="sync_talk"))
    by_message = {record["@message"]: record for record in logs.records}
    plain = by_message["plain"]
    assert plain["refId"] == "A" and plain["queryType"] == "talk"
    # Integers as strings (Plutono prints a JSON number as 1.000); Plutono adds pluginId itself.
    assert plain["endpoint"] == "queryData" and plain["datasourceId"] == "1"
    assert plain["orgId"] == "1" and "pluginId" not in plain
    assert by_message["talking"]["refId"] == "mine"  # a record's own field wins
    assert by_message["from a thread"]["refId"] == "B"
    logger.info("outside")
    assert "refId" not in logs.records[-1] and "endpoint" not in logs.records[-1]


async def test_unknown_query_types_share_one_metric_label() -> None:
    plugin = Plugin()

    @plugin.query("known")
    async def known(query: Query) -> None:
        return None

    sent = [f"junk-{i}-{time.monotonic_ns()}" for i in range(300)]
    async with PluginTestClient(plugin) as client:
        answers = await client.query(
            *(target(f"R{i}", query_type=kind) for i, kind in enumerate(sent))
        )
        assert all("no handler for query type" in answer.error for answer in answers.values())
        metrics = await client.collect_metrics()
    assert not any(kind in metrics for kind in sent)
    assert f'outcome="error",query_type="{UNREGISTERED_LABEL}"' in metrics


async def test_the_response_size_limit_is_configurable_and_can_be_lifted() -> None:
    for limit, expect_error in ((1000, True), (None, False)):
        plugin = Plugin(max_query_response_size=limit)

        @plugin.query()
        async def big(query: Query) -> Frame:
            return Frame("", [Field("value", [float(i) for i in range(2000)])])

        async with PluginTestClient(plugin) as client:
            answers = await client.query(target("A"))
        assert ("exceeds the plugin's limit of 1000 bytes" in answers["A"].error) is expect_error
        assert bool(answers["A"].frames) is not expect_error


def test_configuration_errors_name_the_setting() -> None:
    with pytest.raises(ValueError, match="max_query_response_size"):
        Plugin(max_query_response_size=0)
    with pytest.raises(ValueError, match="loop_stall_warning"):
        Plugin(loop_stall_warning=-1)
    with pytest.raises(ValueError, match="instance_idle_timeout"):
        Plugin(instance_idle_timeout=float("inf"))
    with pytest.raises(ValueError, match="worker thread limit"):
        Plugin(max_sync_handlers=0)


def test_credential_like_headers_are_redacted_in_reprs() -> None:
    from plutono_plugin import Headers

    secret = "eyJhbGciOi.secret.token"
    sent = {
        "X-Id-Token": secret,
        "X-Api-Key": secret,
        "X-Auth-Request-Access-Token": secret,
        "Authorization": f"Bearer {secret}",
        "Accept": "application/json",
    }
    context = RequestContext(headers=sent)
    for shown in (repr(context), repr(Headers(sent))):
        assert secret not in shown and "application/json" in shown
