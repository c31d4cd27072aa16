"""The quickstart example's handlers, called directly: how a plugin author unit-tests a plugin.

Decorators return the functions unchanged, so handlers are plain ``async def`` functions taking
a ``Query``, a model and a ``RequestContext``; no host, no gRPC. The tests at the end go through
the transport-free routers the gRPC adapter calls (``plugin.queries``, ``plugin.resources``) and
through the public in-memory test client (``plutono_plugin.testing.PluginTestClient``).
"""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from plutono_plugin import (
    DataSourceSettings,
    FieldType,
    Frame,
    Headers,
    HealthStatus,
    PluginContext,
    Query,
    QueryError,
    RequestContext,
    ResourceRequest,
    TimeRange,
)
from plutono_plugin.testing import PluginTestClient, target
from tests._tools import load_example

START = datetime(2024, 1, 1, tzinfo=UTC)


example = load_example()


def make_query(
    ref_id: str = "A",
    *,
    seconds: int = 10,
    interval_ms: int = 1000,
    max_data_points: int = 100,
    query_type: str = "",
    model: dict[str, Any] | None = None,
) -> Query:
    return Query(
        ref_id=ref_id,
        query_type=query_type,
        time_range=TimeRange(START, START + timedelta(seconds=seconds)),
        interval=timedelta(milliseconds=interval_ms),
        max_data_points=max_data_points,
        raw_json=json.dumps(model or {}).encode(),
    )


def datasource_context(instance: object = None, **json_data: object) -> RequestContext:
    settings = DataSourceSettings(id=4, name="demo", raw_json_data=json.dumps(json_data).encode())
    return RequestContext(PluginContext(org_id=1, datasource=settings), instance=instance)


def times_ms(frame: Frame) -> list[int]:
    return [value // 1_000_000 for value in frame.field("time").values]


async def test_sine_handler_answers_a_wide_frame() -> None:
    query = make_query("B", seconds=5)
    model = example.SineQuery(amplitude=2.0, labels={"host": "a"})

    frame = await example.sine(query, model, RequestContext())

    assert frame.name == "B"  # the router sets ref_id from the query
    assert [field.name for field in frame.fields] == ["time", "value"]
    assert frame.field("time").type is FieldType.TIME
    assert frame.field("value").type is FieldType.FLOAT64
    assert frame.field("value").labels == {"host": "a"}
    start_ms = query.time_range.from_ms
    assert times_ms(frame) == [start_ms + 1000 * i for i in range(5)]
    assert frame.field("value").values == pytest.approx(
        [2.0 * math.sin(t / 1000) for t in times_ms(frame)]
    )


@pytest.mark.parametrize(
    ("interval_ms", "max_data_points", "step_ms"),
    [(1000, 100, 1000), (0, 6, 10_000), (20_000, 6, 20_000), (0, 0, 1000)],
)
async def test_step_is_the_larger_of_interval_and_range_over_points(
    interval_ms: int, max_data_points: int, step_ms: int
) -> None:
    query = make_query(seconds=60, interval_ms=interval_ms, max_data_points=max_data_points)

    frame = await example.sine(query, example.SineQuery(), RequestContext())

    times = times_ms(frame)
    assert {b - a for a, b in itertools.pairwise(times)} == {step_ms}
    assert times[0] == query.time_range.from_ms and times[-1] < query.time_range.to_ms


async def test_slow_handler_waits_then_answers_like_sine() -> None:
    query = make_query()

    slow = await example.slow(query, example.SlowQuery(duration_ms=20), RequestContext())
    sine = await example.sine(query, example.SineQuery(), RequestContext())

    assert slow == sine


async def test_error_handler_raises_the_message() -> None:
    with pytest.raises(QueryError, match=r"^upstream down$"):
        await example.error(example.ErrorQuery(message="upstream down"), RequestContext())


async def test_table_handler_has_a_column_of_each_basic_type() -> None:
    frame = await example.table(make_query(), RequestContext())

    types = {field.type for field in frame.fields}
    assert {FieldType.TIME, FieldType.STRING, FieldType.INT64, FieldType.FLOAT64} <= types
    assert FieldType.BOOL in types
    assert frame.field("host").values[-1] is None  # nullable columns


async def test_instance_counts_the_queries_it_served() -> None:
    settings = DataSourceSettings(id=9, name="counted")
    factory = example.upstream(settings)
    instance = await anext(factory)
    context = RequestContext(instance=instance)

    await example.sine(make_query(), example.SineQuery(), context)
    await example.table(make_query(), context)
    with pytest.raises(QueryError):
        await example.error(example.ErrorQuery(), context)

    assert (instance.name, instance.served) == ("counted", 3)
    await factory.aclose()


async def test_resource_handlers() -> None:
    assert await example.ping(ResourceRequest("GET", "ping")) == {"ok": True}
    assert await example.item(ResourceRequest("GET", "items/7"), 7) == {
        "id": 7,
        "name": "item 7",
    }

    echoed = await example.echo(
        ResourceRequest(
            "POST", "echo", "echo?a=1&a=2", headers=Headers({"X-Test": "yes"}), body=b"payload"
        )
    )

    assert echoed == {
        "method": "POST",
        "path": "echo",
        "query": {"a": ["1", "2"]},
        "headers": {"X-Test": "yes"},
        "body": "payload",
    }


async def test_stream_handler_yields_the_requested_chunks() -> None:
    response = await example.stream(ResourceRequest("GET", "stream", "stream?chunks=3"))

    chunks = [chunk async for chunk in response.iter_chunks()]

    assert chunks == [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n"]
    assert response.headers["Content-Type"].startswith("text/plain")
    bad = await example.stream(ResourceRequest("GET", "stream", "stream?chunks=x"))
    assert bad.status == 422


async def test_health_handler_follows_json_data() -> None:
    ok = await example.health(example.QuickstartOptions())
    failing = await example.health(example.QuickstartOptions(fail=True))

    assert ok.status is HealthStatus.OK
    assert failing.status is HealthStatus.ERROR and "fail" in failing.message


async def test_the_unit_and_max_points_settings_shape_the_sine_frame() -> None:
    query = make_query("A", seconds=60, max_data_points=600)
    options = example.QuickstartOptions(unit="percent", max_points=6)
    frame = await example.sine(query, example.SineQuery(), RequestContext(), options)
    assert len(frame.field("time").values) == 6  # capped by the setting, not the panel's 600
    config = frame.field("value").config
    assert config is not None and config.unit == "percent"


async def test_the_fail_setting_fails_save_and_test_through_the_services() -> None:
    settings = DataSourceSettings(id=4, name="demo", raw_json_data=b'{"fail": true}')
    context = PluginContext(org_id=1, datasource=settings)
    async with PluginTestClient(example.plugin, context=context) as client:
        health = await client.check_health()
    assert (health.status, health.message) == (
        "ERROR",
        "the fail setting is on: failing on purpose",
    )


# -- through the transport-free routers the gRPC adapter uses -----------------------------------


async def test_router_isolates_errors_and_names_unknown_types() -> None:
    queries = [
        make_query("A", query_type="sine"),
        make_query("B", query_type="error", model={"message": "nope"}),
        make_query("C", query_type="mystery"),
        make_query("D", query_type="slow", model={"durationMs": "soon"}),
    ]

    results = await example.plugin.queries.dispatch(queries, RequestContext())

    assert results["A"].error is None and len(results["A"].frames) == 1
    assert results["B"].error == "nope"
    assert (results["C"].error or "").startswith("no handler for query type 'mystery'; ")
    assert results["D"].error is not None and "duration" in results["D"].error


async def test_router_answers_bad_item_ids_with_422() -> None:
    response = await example.plugin.resources.dispatch(ResourceRequest("GET", "items/abc"))

    assert response.status == 422


# -- through the public in-memory test client (the plugin's real gRPC services) ----------------


async def test_in_memory_client_runs_every_feature_of_the_example() -> None:
    async with PluginTestClient(example.plugin) as client:
        answers = await client.query(
            target("A", amplitude=2, labels={"host": "a"}),
            target("B", query_type="error", message="upstream down"),
            target("C", query_type="table"),
            target("D", query_type="nope"),
        )
        ping = await client.call_resource("GET", "ping")
        stream = await client.call_resource("GET", "stream?chunks=3")
        health = await client.check_health()
        metrics = await client.collect_metrics()

    [sine] = answers["A"].frames
    assert answers["A"].error == ""
    assert sine.field("value").labels == {"host": "a"}
    assert answers["B"] == ([], "upstream down")
    assert answers["C"].error == "" and len(answers["C"].frames[0].fields) == 6
    assert answers["D"].frames == []
    assert answers["D"].error.startswith("no handler for query type 'nope'; the plugin handles")
    assert (ping.status, ping.json()) == (200, {"ok": True})
    assert stream.chunks == [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n"]
    assert health.ok and health.message == "quickstart datasource is working"
    assert 'quickstart_queries_served_total{datasource="dev"}' in metrics
    assert client.problems == []
