"""The data plane (issue #4) through the real Go host: queries, resources, health, metrics,
instances and secrets, against the quickstart example and ``tests/plugins/dataplane``.

The host is go-plugin v1.4.0 with the SDK v0.88.0 client stubs (``tests/interop/README.md``);
replies are what Plutono would turn into HTTP responses (contract 2.4).
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.interop.gohost import (
    GoHost,
    LogRecord,
    Query,
    QueryReply,
    ResourceReply,
    body_bytes,
    frames_bytes,
)

pytestmark = pytest.mark.go

QUICKSTART_ID = "plutono-quickstart-datasource"
DATAPLANE_ID = "plutono-dataplane-test-datasource"
FROM_MS = 1_600_000_000_000


@pytest.fixture
def quickstart(go_host: GoHost, quickstart_dir: Path) -> GoHost:
    reply = go_host.start(quickstart_dir, QUICKSTART_ID)
    assert reply["ok"], reply.get("error")
    return go_host


@pytest.fixture
def dataplane(go_host: GoHost, dataplane_dir: Path) -> Iterator[GoHost]:
    reply = go_host.start(dataplane_dir, DATAPLANE_ID)
    assert reply["ok"], reply.get("error")
    yield go_host


def read_frame(data: bytes) -> pa.Table:
    with pa.ipc.open_file(io.BytesIO(data)) as reader:
        return reader.read_all()


def only_frame(reply: QueryReply, ref_id: str = "A") -> pa.Table:
    assert reply["ok"], reply.get("error")
    response = reply["responses"][ref_id]
    assert response["error"] == ""
    [raw] = frames_bytes(response)
    return read_frame(raw)


def plugin_logs(host: GoHost, since: int, message: str) -> list[LogRecord]:
    return [
        record
        for record in host.logs(since)["records"]
        if record["logger"].startswith("gpx_") and record["message"] == message
    ]


def wait_for_logs(host: GoHost, since: int, message: str, count: int) -> list[LogRecord]:
    deadline = time.monotonic() + 5
    while True:
        records = plugin_logs(host, since, message)
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def datasource(
    id_: int, *, json_data: object = None, last_updated_ms: int = 1, **extra: object
) -> dict[str, object]:
    return {
        "org_id": 1,
        "user": {"login": "admin", "role": "Admin"},
        "datasource": {
            "id": id_,
            "name": f"ds {id_}",
            "json_data": json_data if json_data is not None else {},
            "last_updated_ms": last_updated_ms,
            **extra,
        },
    }


def metric_samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


# -- queries: the quickstart example ----------------------------------------------------------


def test_sine_query_is_a_wide_frame_named_after_the_ref_id(quickstart: GoHost) -> None:
    reply = quickstart.query(
        [
            {
                "ref_id": "B",
                "query_type": "sine",
                "json": {"amplitude": 3, "labels": {"host": "web-1"}},
                "from_ms": FROM_MS,
                "to_ms": FROM_MS + 10_000,
                "interval_ms": 2000,
                "max_data_points": 100,
            }
        ]
    )

    table = only_frame(reply, "B")
    assert table.schema.metadata[b"name"] == b"B"
    assert table.column_names == ["time", "value"]
    assert pa.types.is_timestamp(table.schema.field("time").type)
    assert table.schema.field("value").type == pa.float64()
    assert json.loads(table.schema.field("value").metadata[b"labels"]) == {"host": "web-1"}
    times_ms = [t.value // 1_000_000 for t in table.column("time")]
    assert times_ms == [FROM_MS + 2000 * i for i in range(5)]  # step = intervalMS
    assert table.column("value").to_pylist() == pytest.approx(
        [3 * math.sin(t / 1000) for t in times_ms]
    )


@pytest.mark.parametrize(
    ("interval_ms", "max_data_points", "rows"),
    [(0, 6, 6), (1000, 6, 6), (0, 0, 60), (30_000, 100, 2)],
)
def test_default_query_steps_by_interval_or_range_over_points(
    quickstart: GoHost, interval_ms: int, max_data_points: int, rows: int
) -> None:
    reply = quickstart.query(
        [
            {
                "json": {},
                "from_ms": FROM_MS,
                "to_ms": FROM_MS + 60_000,
                "interval_ms": interval_ms,
                "max_data_points": max_data_points,
            }
        ]
    )

    table = only_frame(reply)
    assert table.num_rows == rows
    assert table.column("value").to_pylist() == pytest.approx(
        [math.sin(t.value / 1e9) for t in table.column("time")]
    )


def test_table_query_has_a_column_of_each_basic_type(quickstart: GoHost) -> None:
    table = only_frame(quickstart.query([{"query_type": "table"}]))

    kinds = {field.name: field.type for field in table.schema}
    assert pa.types.is_timestamp(kinds.pop("time"))
    assert set(kinds.values()) >= {pa.string(), pa.int64(), pa.float64(), pa.bool_()}
    assert table.num_rows == 3


def test_ten_slow_queries_run_concurrently(quickstart: GoHost) -> None:
    queries: list[Query] = [
        {"ref_id": f"Q{i}", "query_type": "slow", "json": {"durationMs": 200}} for i in range(10)
    ]

    reply = quickstart.query(queries)

    assert reply["ok"], reply.get("error")
    assert reply["elapsed_ms"] < 1000  # one after another would take 2 s
    assert sorted(reply["responses"]) == sorted(q["ref_id"] for q in queries)
    for response in reply["responses"].values():
        assert response["error"] == ""
        assert len(response["frames_base64"]) == 1


def test_one_failing_query_beside_nine_good_ones(quickstart: GoHost) -> None:
    queries: list[Query] = [{"ref_id": f"Q{i}", "query_type": "sine"} for i in range(9)]
    queries.insert(4, {"ref_id": "BAD", "query_type": "error", "json": {"message": "no data"}})

    reply = quickstart.query(queries)

    assert reply["ok"], reply.get("error")
    responses = reply["responses"]
    assert responses["BAD"] == {"error": "no data", "frames_base64": [], "json_meta_base64": ""}
    good = [r for ref_id, r in responses.items() if ref_id != "BAD"]
    assert len(good) == 9
    assert all(r["error"] == "" and len(r["frames_base64"]) == 1 for r in good)


def test_bad_json_and_unknown_type_are_clear_per_query_errors(quickstart: GoHost) -> None:
    reply = quickstart.query(
        [
            {"ref_id": "A", "query_type": "sine", "json_text": '{"amplitude": '},
            {"ref_id": "B", "query_type": "sine", "json": {"amplitude": "loud"}},
            {"ref_id": "C", "query_type": "nope"},
            {"ref_id": "D", "query_type": "sine"},
        ]
    )

    assert reply["ok"], reply.get("error")
    responses = reply["responses"]
    assert responses["A"]["error"].startswith("query JSON is not valid")
    assert "amplitude" in responses["B"]["error"] and "float" in responses["B"]["error"]
    assert responses["C"]["error"].startswith("no handler for query type 'nope'; ")
    assert responses["D"]["error"] == ""
    assert all(responses[ref]["frames_base64"] == [] for ref in "ABC")


def test_instance_counts_queries_served_in_metrics(quickstart: GoHost) -> None:
    context = datasource(7)
    quickstart.query(
        [{"ref_id": "A"}, {"ref_id": "B", "query_type": "table"}], plugin_context=context
    )
    quickstart.query([{"ref_id": "A", "query_type": "slow"}], plugin_context=context)

    samples = metric_samples(quickstart.metrics()["prometheus"])

    served = dict(
        (labels["datasource"], value)
        for labels, value in samples["quickstart_queries_served_total"]
    )
    assert served["ds 7"] == 3


# -- cancellation and deadlines ---------------------------------------------------------------


def test_cancelled_call_cancels_its_handlers(dataplane: GoHost) -> None:
    mark = dataplane.logs()["last_seq"]

    reply = dataplane.query(
        [{"ref_id": ref, "query_type": "slow", "json": {"durationMs": 10_000}} for ref in "AB"],
        cancel_after_ms=200,
    )

    assert reply.get("grpc_code") == "Canceled"
    records = wait_for_logs(dataplane, mark, "query cancelled", 2)
    assert sorted(record["kv"]["refId"] for record in records) == ["A", "B"]
    samples = metric_samples(dataplane.metrics()["prometheus"])
    assert samples["dataplane_cancelled_queries_total"] == [({}, 2.0)]


def test_deadline_is_honoured(dataplane: GoHost) -> None:
    mark = dataplane.logs()["last_seq"]

    reply = dataplane.query(
        [{"query_type": "slow", "json": {"durationMs": 10_000}}], timeout_ms=300
    )

    assert reply.get("grpc_code") == "DeadlineExceeded"
    assert reply["elapsed_ms"] < 2000
    assert [r["kv"]["refId"] for r in wait_for_logs(dataplane, mark, "query cancelled", 1)] == ["A"]


def test_route_timeout_and_exception_are_that_query_errors(dataplane: GoHost) -> None:
    reply = dataplane.query(
        [
            {"ref_id": "T", "query_type": "timeout"},
            {"ref_id": "X", "query_type": "crash"},
            {"ref_id": "S", "query_type": "slow", "json": {"durationMs": 10}},
        ]
    )

    assert reply["ok"], reply.get("error")
    responses = reply["responses"]
    assert responses["T"]["error"] == "query timed out after 0.2 s"
    assert responses["X"]["error"] == "RuntimeError: handler crashed on X"
    assert responses["S"]["error"] == ""


def test_alerting_request_is_recognised(dataplane: GoHost) -> None:
    # What the alert engine sends (contract 2.4.2): FromAlert header, no user, refId A, zeros.
    reply = dataplane.query(
        [{"ref_id": "A", "query_type": "context", "interval_ms": 0, "max_data_points": 0}],
        headers={"FromAlert": "true"},
        plugin_context={"org_id": 1, "datasource": {"id": 3, "name": "alerts"}},
    )

    row = only_frame(reply).to_pylist()[0]
    assert row["from_alert"] is True
    assert row["user"] == ""
    assert (row["interval_ms"], row["max_data_points"]) == (0, 0)


# -- resources --------------------------------------------------------------------------------


def messages(reply: ResourceReply) -> list[tuple[int, dict[str, list[str]], bytes]]:
    assert reply["ok"], reply.get("error")
    return [(m["code"], m["headers"], body_bytes(m)) for m in reply["messages"]]


def test_quickstart_resources(quickstart: GoHost) -> None:
    [(code, headers, body)] = messages(quickstart.resource("ping"))
    assert (code, headers["Content-Type"], json.loads(body)) == (
        200,
        ["application/json"],
        {"ok": True},
    )

    [(code, _, body)] = messages(quickstart.resource("items/42"))
    assert (code, json.loads(body)["id"]) == (200, 42)
    [(code, _, body)] = messages(quickstart.resource("items/abc"))
    assert code == 422 and "item_id" in json.loads(body)["error"]
    [(code, _, _)] = messages(quickstart.resource("nowhere"))
    assert code == 404
    [(code, headers, _)] = messages(quickstart.resource("ping", method="DELETE"))
    assert (code, headers["Allow"]) == (405, ["GET, HEAD"])


def test_echo_returns_method_path_query_headers_and_body(quickstart: GoHost) -> None:
    reply = quickstart.resource(
        "echo",
        method="POST",
        url="echo?tag=a&tag=b",
        headers={"Content-Type": ["text/plain"], "X-Plutono-Org-Id": ["1"]},
        body=b"hello",
    )

    [(code, _, body)] = messages(reply)
    echoed = json.loads(body)
    assert code == 200
    assert (echoed["method"], echoed["path"], echoed["body"]) == ("POST", "echo", "hello")
    assert echoed["query"] == {"tag": ["a", "b"]}
    assert echoed["headers"]["X-Plutono-Org-Id"] == "1"


def test_streamed_chunks_arrive_as_separate_messages(quickstart: GoHost) -> None:
    received = messages(quickstart.resource("stream", url="stream?chunks=4"))

    assert [body for _, _, body in received] == [f"chunk {i}\n".encode() for i in range(4)]
    assert received[0][0] == 200
    assert received[0][1]["Content-Type"] == ["text/plain; charset=utf-8"]
    assert all(code == 0 and headers == {} for code, headers, _ in received[1:])


def test_streamed_chunks_are_flushed_as_produced(dataplane: GoHost) -> None:
    reply = dataplane.resource("chunks")

    assert [body_bytes(m) for m in reply["messages"]] == [b"part 0;", b"part 1;", b"part 2;"]
    arrivals = [m["received_ms"] for m in reply["messages"]]
    assert arrivals[2] - arrivals[0] >= 80  # 50 ms apart, not buffered into one


@pytest.mark.parametrize("code", [0, 99, 600])
def test_invalid_status_becomes_500(dataplane: GoHost, code: int) -> None:
    [(status, headers, body)] = messages(dataplane.resource(f"status/{code}"))

    assert status == 500
    assert headers["Content-Type"] == ["application/json"]
    assert str(code) in json.loads(body)["error"]


def test_exception_in_a_resource_is_500_json(dataplane: GoHost) -> None:
    [(status, _, body)] = messages(dataplane.resource("boom", method="POST"))

    assert status == 500
    assert json.loads(body) == {"error": "ValueError: the resource handler broke"}


def test_bytes_and_text_bodies_with_their_content_types(dataplane: GoHost) -> None:
    [(status, headers, body)] = messages(dataplane.resource("bytes"))
    assert (status, headers["Content-Type"], body) == (
        200,
        ["application/octet-stream"],
        bytes(range(256)),
    )
    [(status, headers, body)] = messages(dataplane.resource("text"))
    assert (status, headers["Content-Type"], body.decode()) == (
        200,
        ["text/plain; charset=utf-8"],
        "plain text ✓",
    )


def test_header_names_are_canonical_and_set_cookie_dropped(dataplane: GoHost) -> None:
    [(_, headers, _)] = messages(dataplane.resource("headers"))

    assert headers == {"Content-Type": ["text/html"], "X-Request-Id": ["abc"]}


def test_asgi_mount_answers_and_streams(dataplane: GoHost) -> None:
    [(status, _, body)] = messages(dataplane.resource("asgi/items/5", url="asgi/items/5?q=x"))
    assert status == 200
    assert json.loads(body) == {"id": 5, "q": "x", "path": "/asgi/items/5"}

    [(status, _, _)] = messages(dataplane.resource("asgi/items/five"))
    assert status == 404

    streamed = messages(dataplane.resource("asgi/stream"))
    assert [body for _, _, body in streamed] == [b"line 0\n", b"line 1\n", b"line 2\n"]
    assert streamed[0][0] == 200
    assert streamed[0][1]["Content-Type"][0].startswith("text/plain")


# -- health and metrics -----------------------------------------------------------------------


def test_health_default_is_ok(go_host: GoHost, lifecycle_dir: Path) -> None:
    assert go_host.start(lifecycle_dir, "plutono-lifecycle-test-datasource")["ok"]

    reply = go_host.check_health()

    assert (reply["status"], reply["message"], reply["details_json"]) == (
        "OK",
        "plugin is running",
        "",
    )


def test_quickstart_health_follows_json_data(quickstart: GoHost) -> None:
    ok = quickstart.check_health(datasource(1))
    failing = quickstart.check_health(datasource(2, json_data={"fail": True}))

    assert (ok["status"], ok["message"]) == ("OK", "quickstart datasource is working")
    assert failing["status"] == "ERROR"
    assert "fail" in failing["message"]


@pytest.mark.parametrize(
    ("mode", "status", "message", "details"),
    [
        (None, "OK", "", None),
        ("details", "OK", "fine", {"version": "1.2", "nodes": [1, 2]}),
        ("status", "ERROR", "", None),
        ("raise", "ERROR", "ConnectionError: cannot reach upstream", None),
    ],
)
def test_health_handler_results(
    dataplane: GoHost, mode: str | None, status: str, message: str, details: object
) -> None:
    reply = dataplane.check_health(datasource(1, json_data={"health": mode}))

    assert reply["ok"], reply.get("error")
    assert (reply["status"], reply["message"]) == (status, message)
    assert (json.loads(reply["details_json"]) if reply["details_json"] else None) == details


def test_health_details_must_be_a_json_object(dataplane: GoHost) -> None:
    reply = dataplane.check_health(datasource(1, json_data={"health": "bad-details"}))

    assert reply["status"] == "ERROR"
    assert "health details must be a JSON object" in reply["message"]


def test_metrics_parse_and_show_per_rpc_and_custom_metrics(dataplane: GoHost) -> None:
    dataplane.query([{"query_type": "crash"}])
    dataplane.resource("text")
    dataplane.check_health()

    samples = metric_samples(dataplane.metrics()["prometheus"])

    requests = {
        (labels["endpoint"], labels["status"]): value
        for labels, value in samples["plutono_plugin_requests_total"]
    }
    assert requests[("queryData", "OK")] >= 1
    assert requests[("callResource", "OK")] >= 1
    assert requests[("checkHealth", "OK")] >= 1
    queries = {
        (labels["query_type"], labels["outcome"]): value
        for labels, value in samples["plutono_plugin_queries_total"]
    }
    assert queries[("crash", "error")] == 1
    assert "dataplane_cancelled_queries_total" in samples
    assert "process_resident_memory_bytes" in samples
    assert samples["plutono_plugin_instances"] == [({}, 1.0)]


# -- instances --------------------------------------------------------------------------------


def generation(reply: QueryReply) -> int:
    return int(only_frame(reply).column("generation")[0].as_py())


def test_instance_is_rebuilt_when_last_updated_changes(dataplane: GoHost) -> None:
    mark = dataplane.logs()["last_seq"]
    context_query: list[Query] = [{"query_type": "context"}]

    first = generation(dataplane.query(context_query, plugin_context=datasource(10)))
    again = generation(dataplane.query(context_query, plugin_context=datasource(10)))
    rebuilt = generation(
        dataplane.query(context_query, plugin_context=datasource(10, last_updated_ms=2))
    )

    assert first == again != rebuilt
    disposed = wait_for_logs(dataplane, mark, "instance disposed", 1)
    assert [record["kv"]["generation"] for record in disposed] == [str(first)]


def test_old_instance_is_disposed_after_its_in_flight_request(dataplane: GoHost) -> None:
    mark = dataplane.logs()["last_seq"]
    slow_job = dataplane.query_in_background(
        [{"query_type": "slow", "json": {"durationMs": 600}}], plugin_context=datasource(11)
    )
    time.sleep(0.2)
    dataplane.query([{"query_type": "context"}], plugin_context=datasource(11, last_updated_ms=2))

    assert plugin_logs(dataplane, mark, "instance disposed") == []  # the slow call holds it
    assert dataplane.wait(slow_job)["ok"]
    assert len(wait_for_logs(dataplane, mark, "instance disposed", 1)) == 1


def test_concurrent_first_calls_share_one_instance(dataplane: GoHost) -> None:
    context = datasource(12, json_data={"factory": "slow"})
    jobs = [
        dataplane.query_in_background([{"query_type": "context"}], plugin_context=context)
        for _ in range(4)
    ]

    replies = [dataplane.wait(job) for job in jobs]

    generations = {generation(QueryReply(**reply)) for reply in replies}  # type: ignore[typeddict-item]
    assert len(generations) == 1


def test_factory_failure_is_reported_and_not_cached(dataplane: GoHost) -> None:
    failing = dataplane.query(
        [{"query_type": "context"}],
        plugin_context=datasource(13, json_data={"factory": "fail"}),
    )
    assert failing["ok"], failing.get("error")
    error = failing["responses"]["A"]["error"]
    assert "ds 13" in error and "upstream refused the connection" in error

    # Same lastUpdatedMS: a cached failure would fail again.
    healed = dataplane.query([{"query_type": "context"}], plugin_context=datasource(13))
    assert generation(healed) > 0


def test_instances_are_disposed_at_shutdown(dataplane: GoHost) -> None:
    for datasource_id in (20, 21):
        dataplane.query([{"query_type": "context"}], plugin_context=datasource(datasource_id))
    mark = dataplane.logs()["last_seq"]

    assert dataplane.kill()["graceful"]

    assert len(wait_for_logs(dataplane, mark, "instance disposed", 2)) == 2


# -- secrets ----------------------------------------------------------------------------------


def test_logged_context_shows_no_secret(dataplane: GoHost, tmp_path: Path) -> None:
    secrets = {"apiKey": "s3cr3t-api-key", "basicAuthPassword": "hunter2-password"}
    context: dict[str, Any] = datasource(30, decrypted_secure_json_data=secrets)
    mark = dataplane.logs()["last_seq"]

    reply = dataplane.query(
        [{"query_type": "context"}],
        plugin_context=context,
        headers={"Authorization": "Bearer oauth-token-value"},
    )

    assert reply["ok"], reply.get("error")
    [record] = [r for r in dataplane.logs(mark)["records"] if "serving with" in r["message"]]
    assert "apiKey" in record["message"]  # the context really was logged, secrets by name
    dataplane.kill()
    stderr = (tmp_path / "host.stderr").read_text()
    for value in [*secrets.values(), "oauth-token-value"]:
        assert value not in stderr
