"""Issue 17 (runtime) and 16 (settings) against the real host: go-plugin v1.4.0 + SDK v0.88.0.

What only the real host shows: how many streams it opens at once (contract 1.9, 1.10), how it
stops a plugin (contract 1.12), that an ASGI app or a teardown cannot end the process the host
talks to, and that settings saved twice within a second reach the plugin the way Plutono sends
them (the same ``lastUpdatedMS``).
"""

from __future__ import annotations

import base64
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests._prebuilt import prebuilt
from tests.interop.gohost import GoHost, Query
from tests.interop.test_runtime import _alive, plugin_records

HARDENING_ID = "plutono-hardening-test-datasource"
GRACE_S = 1.5  # Plugin()'s default shutdown_grace
IN_FLIGHT = 200


@pytest.fixture(scope="session")
def hardening_dir(request: pytest.FixtureRequest) -> Path:
    """``tests/plugins/hardening`` built before the first test (``tests/_prebuilt.py``)."""
    return prebuilt(request, "hardening_dir")


def started(host: GoHost, plugin_dir: Path) -> int:
    reply = host.start(plugin_dir, HARDENING_ID)
    assert reply["ok"], reply
    return reply["pid"]


def in_flight(host: GoHost) -> float:
    reply = host.metrics()
    assert reply["ok"], reply
    for family in text_string_to_metric_families(reply["prometheus"]):
        if family.name == "plutono_plugin_requests_in_flight":
            return sum(s.value for s in family.samples if s.labels.get("endpoint") == "queryData")
    return 0.0


def datasource(json_data: Any = None, *, json_text: str | None = None) -> dict[str, object]:
    settings: dict[str, object] = {"id": 7, "name": "hardened", "last_updated_ms": 1_700_000_000}
    if json_text is not None:
        settings["json_data_text"] = json_text
    else:
        settings["json_data"] = json_data or {}
    return {"org_id": 1, "datasource": settings}


def test_health_metrics_and_shutdown_are_not_queued_behind_200_slow_calls(
    go_host: GoHost, hardening_dir: Path
) -> None:
    started(go_host, hardening_dir)
    slow: list[Query] = [{"ref_id": "A", "query_type": "slow", "json": {"durationMs": 30_000}}]
    jobs = [go_host.query_in_background(slow) for _ in range(IN_FLIGHT)]
    # Before: h2's 100 streams minus go-plugin's 2 long-lived ones → the 99th call waited
    # (for these queries: 30 s) in the host, metrics included.
    deadline = time.monotonic() + 30
    while in_flight(go_host) < IN_FLIGHT:
        assert time.monotonic() < deadline, in_flight(go_host)
        time.sleep(0.1)
    health = go_host.check_health()
    assert health["ok"] and health["status"] == "OK", health
    assert health["elapsed_ms"] < 1000, health  # 0.01 s on a quiet machine
    killed = go_host.kill()
    # Shutdown is read at once; it answers after the grace (the calls are cancelled then).
    assert killed["graceful"] and killed["elapsed_ms"] < (GRACE_S + 1.0) * 1000, killed
    for job in jobs[:3]:
        assert not go_host.wait(job)["ok"]


def test_settings_saved_twice_within_one_second_reach_the_plugin(
    go_host: GoHost, hardening_dir: Path
) -> None:
    started(go_host, hardening_dir)
    query: list[Query] = [{"ref_id": "A", "query_type": "label"}]
    for label in ("first", "second", "first"):
        # Plutono stores `updated` in seconds: both saves carry the same lastUpdatedMS.
        reply = go_host.query(query, plugin_context=datasource({"label": label}))
        assert reply["ok"], reply
        frames = reply["responses"]["A"]["frames_base64"]
        assert frames, reply
        table = pa.ipc.open_file(pa.BufferReader(base64.b64decode(frames[0]))).read_all()
        assert table.column("label").to_pylist() == [label]
        assert table.column("option").to_pylist() == [label]


def test_a_5000_digit_integer_in_jsondata_is_a_health_error_naming_the_field(
    go_host: GoHost, hardening_dir: Path
) -> None:
    started(go_host, hardening_dir)
    huge = datasource(json_text='{"rowLimit": ' + "9" * 5000 + "}")
    health = go_host.check_health(huge)
    assert health["ok"] and health["status"] == "ERROR", health
    assert "jsonData.rowLimit is an integer of 5000 digits" in health["message"]
    answer = go_host.query([{"ref_id": "A", "query_type": "label"}], plugin_context=huge)
    assert answer["ok"], answer  # not a failed request: that refId's error
    assert "jsonData.rowLimit" in answer["responses"]["A"]["error"]
    assert go_host.check_health(datasource({"label": "x"}))["status"] == "OK"


@pytest.mark.parametrize("what", ["system_exit", "keyboard_interrupt", "cancelled"])
def test_an_asgi_app_cannot_end_the_process(
    go_host: GoHost, hardening_dir: Path, what: str
) -> None:
    pid = started(go_host, hardening_dir)
    reply = go_host.resource(f"asgi/{what}", timeout_ms=5000)
    assert reply["ok"], reply
    assert reply["messages"][0]["code"] == 500, reply
    assert go_host.resource("asgi/fine")["messages"][0]["code"] == 200
    assert _alive(pid) and not go_host.exited()["exited"]


def test_a_streamed_body_cut_by_an_error_does_not_end_as_a_success(
    go_host: GoHost, hardening_dir: Path
) -> None:
    started(go_host, hardening_dir)
    reply = go_host.resource("asgi/cut", timeout_ms=5000)
    # The status went out with the first chunk; the error status makes Plutono append its
    # error to the partial body (contract 2.4.4) instead of ending it as if complete.
    assert not reply["ok"] and reply["grpc_code"] == "Unknown", reply
    assert "failed while streaming: RuntimeError: upstream went away" in reply["grpc_message"]
    assert reply["messages"] and reply["messages"][0]["code"] == 200, reply
    assert go_host.resource("asgi/fine")["messages"][0]["code"] == 200


def test_a_teardown_raising_systemexit_does_not_end_the_process(
    go_host: GoHost, hardening_dir: Path
) -> None:
    pid = started(go_host, hardening_dir)
    query: list[Query] = [{"ref_id": "A", "query_type": "label"}]
    assert go_host.query(query, plugin_context=datasource({"label": "exit"}))["ok"]
    saved = datasource({"label": "after"})  # the datasource is saved: the old instance goes
    saved["datasource"]["last_updated_ms"] = 1_700_000_001_000  # type: ignore[index]
    assert go_host.query(query, plugin_context=saved)["ok"]
    time.sleep(0.3)  # the disposal runs in its own task
    assert _alive(pid) and not go_host.exited()["exited"]
    assert go_host.query(query, plugin_context=saved)["responses"]["A"]["error"] == ""
    messages = [str(record["message"]) for record in plugin_records(go_host)]
    assert any(
        "disposing the instance of datasource 'hardened' (id 7) failed" in m for m in messages
    )


def test_sigterm_while_a_handler_blocks_the_loop_exits_within_the_grace(
    go_host: GoHost, hardening_dir: Path
) -> None:
    started(go_host, hardening_dir)
    go_host.query_in_background([{"ref_id": "A", "query_type": "block", "json": {"seconds": 8}}])
    time.sleep(0.5)  # the handler is sleeping on the loop
    assert go_host.signal("TERM")["ok"]
    begun = time.monotonic()
    exited = go_host.wait_exited(10)
    elapsed = time.monotonic() - begun
    # Before: the SIGTERM was seen once the 8 s block ended. Bound: grace + 0.2 s (loose here).
    assert elapsed < GRACE_S + 0.2 + 1.0, elapsed
    assert exited["exit_code"] == 3, exited
    messages = [str(record["message"]) for record in plugin_records(go_host)]
    assert any("blocked" in m and "query handler block" in m for m in messages), messages


def test_the_host_dying_while_a_handler_blocks_the_loop_is_noticed(
    go_host: GoHost, hardening_dir: Path
) -> None:
    pid = started(go_host, hardening_dir)
    go_host.query_in_background([{"ref_id": "A", "query_type": "block", "json": {"seconds": 8}}])
    time.sleep(0.5)
    os.kill(go_host.pid, signal.SIGKILL)
    begun = time.monotonic()
    while _alive(pid):
        # Before: noticed once the 8 s block ended. Now: 0.2 s grace + 0.2 s overrun.
        assert time.monotonic() - begun < 2.0, "orphaned plugin still running after 2 s"
        time.sleep(0.05)


def test_the_socket_directory_of_a_sigkilled_plugin_is_removed_at_the_next_start(
    go_host: GoHost, hardening_dir: Path
) -> None:
    pid = started(go_host, hardening_dir)
    assert go_host.signal("KILL")["ok"]
    go_host.wait_exited(5)
    leftover = list(Path(tempfile.gettempdir()).glob(f"plutono-plugin-{pid}-*"))
    assert leftover, "the SIGKILLed plugin left no directory: nothing to test"
    started(go_host, hardening_dir)
    assert not [path for path in leftover if path.exists()]
