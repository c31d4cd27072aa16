"""The query router, transport-free: routing, concurrency, isolation, models, timeouts, batches."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from plutono_plugin import Field, Frame, Plugin, Query, QueryError, QueryResponse, RequestContext
from plutono_plugin.query import QueryRouter


def query(ref_id: str, query_type: str = "", raw: bytes = b"{}") -> Query:
    return Query(ref_id=ref_id, query_type=query_type, raw_json=raw)


def frame(value: float = 1.0) -> Frame:
    return Frame("f", [Field("value", [value])])


async def test_queries_of_one_request_run_concurrently() -> None:
    router = QueryRouter(max_concurrency=10)

    async def slow(q: Query) -> Frame:
        await anyio.sleep(0.2)
        return frame()

    router.add_route("slow", slow)
    started = time.perf_counter()
    results = await router.dispatch([query(str(i), "slow") for i in range(10)], RequestContext())
    assert time.perf_counter() - started < 0.6
    assert sorted(results) == [str(i) for i in range(10)]
    assert all(r.error is None and len(r.frames) == 1 for r in results.values())


async def test_capacity_limit_bounds_handlers_running_at_once() -> None:
    router = QueryRouter(max_concurrency=2)
    running = peak = 0

    async def tracked(q: Query) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.02)
        running -= 1

    router.add_route(None, tracked)
    await router.dispatch([query(str(i)) for i in range(8)], RequestContext())
    assert peak == 2


async def test_a_failing_query_is_isolated_and_reported_by_type_and_message() -> None:
    router = QueryRouter()
    finished: list[str] = []

    async def handler(q: Query) -> Frame:
        if q.ref_id == "bad":
            raise KeyError("missing column")
        await anyio.sleep(0.05)  # siblings still running when the failure happens
        finished.append(q.ref_id)
        return frame()

    router.add_route(None, handler)
    results = await router.dispatch([query("a"), query("bad"), query("c")], RequestContext())
    assert results["bad"].error == "KeyError: 'missing column'"
    assert results["a"].frames and results["c"].frames
    assert sorted(finished) == ["a", "c"]


async def test_query_error_message_is_sent_as_is() -> None:
    router = QueryRouter()

    async def handler(q: Query) -> Frame:
        raise QueryError("upstream said no")

    router.add_route("x", handler)
    results = await router.dispatch([query("A", "x")], RequestContext())
    assert results["A"].error == "upstream said no"


async def test_unknown_type_without_fallback_names_the_type() -> None:
    router = QueryRouter()

    async def handler(q: Query) -> Frame:
        return frame()

    router.add_route("known", handler)
    results = await router.dispatch([query("A", "other")], RequestContext())
    assert results["A"].error == "no handler for query type 'other'; the plugin handles 'known'"


async def test_fallback_takes_types_without_a_route() -> None:
    router = QueryRouter()
    seen: list[str] = []

    async def specific(q: Query) -> Frame:
        seen.append(f"specific:{q.ref_id}")
        return frame()

    async def fallback(q: Query) -> Frame:
        seen.append(f"fallback:{q.ref_id}")
        return frame()

    router.add_route("a", specific)
    router.add_route(None, fallback)
    await router.dispatch([query("1", "a"), query("2", "b"), query("3", "")], RequestContext())
    assert sorted(seen) == ["fallback:2", "fallback:3", "specific:1"]


async def test_empty_frame_ref_ids_are_filled_without_touching_shared_frames() -> None:
    shared = frame()
    router = QueryRouter()

    async def handler(q: Query) -> list[Frame]:
        return [shared, Frame("named", [Field("v", [1])], ref_id="keep")]

    router.add_route(None, handler)
    results = await router.dispatch([query("A"), query("B")], RequestContext())
    assert [f.ref_id for f in results["A"].frames] == ["A", "keep"]
    assert [f.ref_id for f in results["B"].frames] == ["B", "keep"]
    assert shared.ref_id == ""


@dataclass
class Model:
    amplitude: float = 1.0
    duration_ms: int = 0
    labels: dict[str, str] = field(default_factory=dict)


class PydanticModel(BaseModel):
    amplitude: float
    name: str = "x"


async def test_dataclass_model_decodes_camel_case_and_names_a_bad_field() -> None:
    router = QueryRouter()
    got: list[Model] = []

    async def handler(q: Query, model: Model, context: RequestContext) -> Frame:
        got.append(model)
        return frame()

    router.add_route(None, handler)
    ok = b'{"refId": "A", "amplitude": 2, "durationMs": 30, "datasource": {"uid": "x"}}'
    results = await router.dispatch(
        [query("A", raw=ok), query("B", raw=b'{"amplitude": "loud"}'), query("C", raw=b"{x")],
        RequestContext(),
    )
    assert got == [Model(amplitude=2, duration_ms=30)]
    assert results["B"].error is not None and "'amplitude'" in results["B"].error
    assert results["C"].error is not None and "not valid" in results["C"].error


async def test_pydantic_model_errors_name_the_field() -> None:
    router = QueryRouter()

    async def handler(model: PydanticModel) -> Frame:
        return frame(model.amplitude)

    router.add_route(None, handler)
    results = await router.dispatch(
        [query("A", raw=b'{"amplitude": 3}'), query("B", raw=b'{"name": "n"}')], RequestContext()
    )
    assert results["A"].frames[0].fields[0].values == [3.0]
    assert results["B"].error is not None and "'amplitude'" in results["B"].error


async def test_route_timeout_becomes_that_query_error() -> None:
    router = QueryRouter()

    async def slow(q: Query) -> Frame:
        await anyio.sleep(5)
        return frame()

    async def quick(q: Query) -> Frame:
        return frame()

    router.add_route("slow", slow, timeout=0.1)
    router.add_route("quick", quick)
    started = time.perf_counter()
    results = await router.dispatch([query("A", "slow"), query("B", "quick")], RequestContext())
    assert time.perf_counter() - started < 1
    assert results["A"].error == "query timed out after 0.1 s"
    assert results["B"].error is None


async def test_cancelling_the_call_cancels_every_handler() -> None:
    router = QueryRouter()
    cancelled: list[str] = []

    async def slow(q: Query) -> Frame:
        try:
            await anyio.sleep(5)
        except anyio.get_cancelled_exc_class():
            cancelled.append(q.ref_id)
            raise
        return frame()

    router.add_route(None, slow)
    with anyio.move_on_after(0.1):
        await router.dispatch([query("A"), query("B")], RequestContext())
    assert sorted(cancelled) == ["A", "B"]


async def test_batch_handler_gets_all_queries_of_its_type_at_once() -> None:
    router = QueryRouter()
    calls: list[list[str]] = []

    async def batch(queries: list[Query]) -> dict[str, Any]:
        calls.append([q.ref_id for q in queries])
        return {q.ref_id: frame() for q in queries if q.ref_id != "C"}

    router.add_route("b", batch, batch=True)
    results = await router.dispatch(
        [query("A", "b"), query("B", "b"), query("C", "b")], RequestContext()
    )
    assert calls == [["A", "B", "C"]]
    assert results["A"].frames and results["B"].frames
    assert results["C"].error == "batch handler returned no response for refId 'C'"


async def test_bad_return_value_is_that_query_error() -> None:
    router = QueryRouter()

    async def wrong(q: Query) -> Any:
        return {"not": "a frame"}

    router.add_route(None, wrong)
    results = await router.dispatch([query("A")], RequestContext())
    assert results["A"].error is not None and "expected a Frame" in results["A"].error


async def test_query_response_carries_frames_and_error_together() -> None:
    router = QueryRouter()

    async def partial(q: Query) -> QueryResponse:
        return QueryResponse(frames=[frame()], error="only part of the data")

    router.add_route(None, partial)
    result = (await router.dispatch([query("A")], RequestContext()))["A"]
    assert result.error == "only part of the data" and len(result.frames) == 1


def test_registration_errors_are_raised_at_import_time() -> None:
    plugin = Plugin()

    async def generator(q: Query) -> AsyncIterator[Frame]:
        yield frame()

    with pytest.raises(TypeError, match=r"must be an 'async def' \(or a plain 'def'\)"):
        plugin.query("x")(generator)

    async def first(q: Query) -> Frame:
        return frame()

    plugin.query("x")(first)
    with pytest.raises(ValueError, match="already registered"):
        plugin.query("x")(first)

    async def odd(q: Query, other: int) -> Frame:
        return frame()

    with pytest.raises(TypeError, match="'other'"):
        plugin.query("y")(odd)
    with pytest.raises(TypeError, match="parentheses"):
        plugin.query(first)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        plugin.query("z", timeout=0)(first)


def test_decorators_return_the_function_unchanged() -> None:
    plugin = Plugin()

    async def handler(q: Query) -> Frame:
        return frame()

    assert plugin.query("a")(handler) is handler
    assert [route.query_type for route in plugin.queries.routes] == ["a"]


async def test_a_parameter_named_instance_receives_the_datasource_instance() -> None:
    @dataclass
    class Client:
        name: str

    router = QueryRouter()

    async def handler(query: Query, instance: Client) -> Frame:
        return Frame("", [Field("client", [instance.name])])

    router.add_route(None, handler)
    results = await router.dispatch([query("A")], RequestContext(instance=Client("upstream")))
    assert results["A"].frames[0].fields[0].values == ["upstream"]
