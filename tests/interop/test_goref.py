"""Prove the Go host harness against the SDK v0.88.0 reference plugin (``goref``).

If these fail, the harness is wrong; the Python runtime's interop tests rely on it.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from pathlib import Path

import pyarrow as pa
import pytest

from tests.interop.gohost import (
    GOREF_PLUGIN_ID,
    GoHost,
    GoHostError,
    body_bytes,
    executable_file_name,
    frames_bytes,
)

pytestmark = pytest.mark.go

FROM_MS = 1_600_000_000_000


@pytest.fixture
def started(go_host: GoHost, goref_dir: Path) -> GoHost:
    reply = go_host.start(goref_dir, GOREF_PLUGIN_ID)
    assert reply["ok"], reply.get("error")
    return go_host


def read_frame(data: bytes) -> pa.Table:
    # SDK v0.88.0 writes the Arrow IPC file format (contract 4.1).
    with pa.ipc.open_file(io.BytesIO(data)) as reader:
        return reader.read_all()


def test_start_negotiates_pluginv2(go_host: GoHost, goref_dir: Path) -> None:
    reply = go_host.start(goref_dir, GOREF_PLUGIN_ID)

    assert reply["ok"], reply.get("error")
    assert reply["negotiated_version"] == 2
    assert reply["pid"] > 0
    assert reply["executable"] == str(goref_dir / executable_file_name("gpx_goref"))
    assert 0 < reply["handshake_ms"] < 10_000


def test_plugin_is_launched_like_plutono_launches_it(go_host: GoHost, goref_dir: Path) -> None:
    go_host.start(
        goref_dir, GOREF_PLUGIN_ID, settings={"api_url": "http://x", "path": "/p", "ID": "i"}
    )

    [message] = go_host.resource("process")["messages"]
    process = json.loads(body_bytes(message))
    env = process["env"]
    assert env["PL_PLUGIN_API_URL"] == "http://x"
    assert "PL_PLUGIN_PATH" not in env and "PL_PLUGIN_ID" not in env
    assert (env["PL_VERSION"], env["PL_EDITION"]) == ("7.5.49", "Open Source")
    assert env["grafana_plugin_type"] == "datasource"
    assert sorted(env["PLUGIN_PROTOCOL_VERSIONS"].split(",")) == ["1", "2"]
    assert (env["PLUGIN_MIN_PORT"], env["PLUGIN_MAX_PORT"]) == ("10000", "25000")
    assert "PLUGIN_CLIENT_CERT" not in env
    assert process["args"] == [str(goref_dir / executable_file_name("gpx_goref"))]
    assert Path(process["cwd"]).resolve() != goref_dir.resolve()


def test_host_environment_overrides_start_env(go_host_binary: Path, goref_dir: Path) -> None:
    host = GoHost(go_host_binary, env={"SHARED": "from-host"})
    try:
        host.start(goref_dir, GOREF_PLUGIN_ID, env={"SHARED": "from-start", "ONLY": "start"})
        [message] = host.resource("process")["messages"]
    finally:
        host.close()

    env = json.loads(body_bytes(message))["env"]
    assert (env["SHARED"], env["ONLY"]) == ("from-host", "start")


def test_start_reports_a_missing_executable(go_host: GoHost, tmp_path: Path) -> None:
    (tmp_path / "plugin.json").write_text(json.dumps({"id": "x", "executable": "gpx_none"}))

    reply = go_host.start(tmp_path, "x")

    assert not reply["ok"]
    assert "gpx_none" in reply.get("error", "")
    assert go_host.ping()["error"] == "no plugin started"  # the host itself keeps working


def test_ping_uses_the_go_plugin_health_service(started: GoHost) -> None:
    assert started.ping() == {"ok": True}


def test_check_health_is_ok(started: GoHost) -> None:
    reply = started.check_health()

    assert reply["ok"], reply.get("error")
    assert reply["status"] == "OK"
    assert reply["message"] == "plugin is running"


def test_check_health_without_datasource_fails_in_the_instance_manager(started: GoHost) -> None:
    reply = started.check_health({"org_id": 1})

    assert not reply["ok"]
    assert reply.get("grpc_code") == "Unknown"
    assert "data source instance settings cannot be nil" in reply.get("grpc_message", "")


def test_metrics_are_prometheus_text(started: GoHost) -> None:
    started.check_health()

    text = started.metrics()["prometheus"]

    assert "# TYPE go_goroutines gauge" in text
    assert 'grpc_server_handled_total{grpc_code="OK",grpc_method="CheckHealth"' in text


def test_sine_query_decodes_as_a_wide_frame(started: GoHost) -> None:
    reply = started.query(
        [
            {
                "ref_id": "A",
                "query_type": "sine",
                "json": {"amplitude": 2.5, "labels": {"host": "a"}},
                "from_ms": FROM_MS,
                "to_ms": FROM_MS + 10_000,
                "interval_ms": 1000,
                "max_data_points": 100,
            }
        ]
    )

    assert reply["ok"], reply.get("error")
    response = reply["responses"]["A"]
    assert response["error"] == ""
    [raw] = frames_bytes(response)
    table = read_frame(raw)
    assert table.schema.metadata[b"name"] == b"A"
    assert table.schema.metadata[b"refId"] == b"A"
    assert table.column_names == ["time", "value"]
    assert pa.types.is_timestamp(table.schema.field("time").type)
    assert table.schema.field("value").type == pa.float64()
    assert json.loads(table.schema.field("value").metadata[b"labels"]) == {"host": "a"}
    times_ms = [t.value // 1_000_000 for t in table.column("time")]
    assert times_ms == [FROM_MS + 1000 * i for i in range(10)]
    values = table.column("value").to_pylist()
    assert values == pytest.approx([2.5 * math.sin(t / 1000) for t in times_ms])


def test_step_follows_max_data_points(started: GoHost) -> None:
    reply = started.query(
        [{"json": {}, "from_ms": FROM_MS, "to_ms": FROM_MS + 60_000, "max_data_points": 6}]
    )

    [raw] = frames_bytes(reply["responses"]["A"])
    assert read_frame(raw).num_rows == 6


def test_error_query_fails_only_its_ref_id(started: GoHost) -> None:
    mark = started.logs()["last_seq"]

    reply = started.query(
        [
            {"ref_id": "A", "json": {}},
            {"ref_id": "B", "query_type": "error", "json": {"message": "boom"}},
        ]
    )

    assert reply["ok"], reply.get("error")
    assert reply["responses"]["B"]["error"] == "boom"
    assert reply["responses"]["B"]["frames_base64"] == []
    assert reply["responses"]["A"]["error"] == ""
    # The plugin's hclog line reaches the host's logger, level and key/values intact.
    records = [
        r for r in started.logs(mark)["records"] if r["message"] == "query failed on purpose"
    ]
    assert [(r["level"], r["kv"]["refId"], r["logger"]) for r in records] == [
        ("warn", "B", executable_file_name("gpx_goref"))
    ]


def test_slow_query_takes_its_time(started: GoHost) -> None:
    reply = started.query([{"query_type": "slow", "json": {"durationMs": 300}}])

    assert reply["ok"], reply.get("error")
    assert reply["elapsed_ms"] >= 300
    assert len(reply["responses"]["A"]["frames_base64"]) == 1


def test_deadline_cancels_a_slow_query(started: GoHost) -> None:
    reply = started.query([{"query_type": "slow", "json": {"durationMs": 5000}}], timeout_ms=200)

    assert not reply["ok"]
    # Host and plugin deadlines expire together: either the host's own DeadlineExceeded or the
    # plugin handler's ctx.Err() (a plain error, so Unknown) wins the race.
    assert reply.get("grpc_code") in {"DeadlineExceeded", "Unknown"}
    assert reply.get("grpc_message") == "context deadline exceeded"
    assert reply.get("elapsed_ms", 0) < 2000


def test_cancel_reaches_the_plugin_handler(started: GoHost) -> None:
    reply = started.query(
        [{"query_type": "slow", "json": {"durationMs": 5000}}], cancel_after_ms=200
    )

    assert not reply["ok"]
    assert reply.get("grpc_message") == "context canceled"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        messages = [r["message"] for r in started.logs()["records"]]
        if "slow query cancelled" in messages:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the plugin never logged that its handler was cancelled")


def test_resource_ping(started: GoHost) -> None:
    reply = started.resource("ping")

    assert reply["ok"], reply.get("error")
    [message] = reply["messages"]
    assert message["code"] == 200
    assert message["headers"]["Content-Type"] == ["application/json"]
    assert json.loads(body_bytes(message)) == {"ok": True}


def test_resource_stream_arrives_message_by_message(started: GoHost) -> None:
    messages = started.resource("stream")["messages"]

    assert [body_bytes(m) for m in messages] == [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n"]
    assert messages[0]["code"] == 200
    assert messages[2]["received_ms"] - messages[0]["received_ms"] >= 80


def test_query_in_background_while_the_plugin_is_killed(started: GoHost) -> None:
    job = started.query_in_background([{"query_type": "slow", "json": {"durationMs": 5000}}])
    time.sleep(0.2)

    killed = started.kill()
    reply = started.wait(job)

    assert killed["exited"]
    assert not reply["ok"]
    assert reply.get("grpc_code") in {"Unavailable", "Canceled"}


def test_kill_is_graceful_and_quick(started: GoHost) -> None:
    reply = started.kill()

    assert reply["exited"]
    assert reply["graceful"]
    assert reply["elapsed_ms"] < 2000
    assert started.exited() == {"ok": True, "exited": True, "started": True, "exit_code": 0}


def test_sigkill_then_restart_policy_brings_it_back(started: GoHost) -> None:
    first_pid = started.restarts()["pid"]
    started.watch_restart()

    assert started.signal("KILL")["ok"]

    deadline = time.monotonic() + 10
    while (state := started.restarts())["restarts"] < 1:
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    assert state["errors"] == []
    assert state["pid"] != first_pid
    assert started.ping() == {"ok": True}
    assert started.check_health()["status"] == "OK"


def test_exit_after_sigkill_is_reported(started: GoHost) -> None:
    started.signal("KILL")

    reply = started.wait_exited()

    assert reply.get("signal") == "killed"
    assert reply.get("exit_code") == -1
    # Like Plutono, health is refused while the process is gone (contract 1.13).
    assert started.check_health().get("unavailable") is True


def test_a_hung_command_times_out_and_close_still_stops_the_plugin(started: GoHost) -> None:
    plugin_pid = started.restarts()["pid"]

    with pytest.raises(GoHostError, match=r"no reply to .query. within 0\.2 s"):
        started.query([{"query_type": "slow", "json": {"durationMs": 5000}}], timeout=0.2)
    started.close()

    with pytest.raises(ProcessLookupError):
        os.kill(plugin_pid, 0)
