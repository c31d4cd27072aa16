"""Issue 2 against the real host: go-plugin v1.4.0 + SDK v0.88.0 configured like Plutono 7.5.49.

The example plugin and the lifecycle test plugin are launched by the Go host exactly as Plutono
launches them; every assertion is about what the host sees.
"""

from __future__ import annotations

import base64
import os
import signal
import time
from pathlib import Path

import pyarrow as pa
from prometheus_client.parser import text_string_to_metric_families

from tests.interop.gohost import GoHost

QUICKSTART_ID = "plutono-quickstart-datasource"
LIFECYCLE_ID = "plutono-lifecycle-test-datasource"


def plugin_records(host: GoHost) -> list[dict[str, object]]:
    """Records the host received from the plugin's stderr (logger = executable name)."""
    return [
        dict(record)
        for record in host.logs()["records"]
        if str(record["logger"]).startswith("gpx_")
    ]


def test_host_starts_example_and_calls_every_diagnostic(
    go_host: GoHost, quickstart_dir: Path
) -> None:
    started = go_host.start(quickstart_dir, QUICKSTART_ID)
    assert started["ok"], started
    assert started["negotiated_version"] == 2
    assert go_host.ping()["ok"]  # grpc.health.v1 "plugin" SERVING

    health = go_host.check_health()
    assert health["ok"] and health["status"] == "OK", health

    metrics = go_host.metrics()
    assert metrics["ok"], metrics
    families = {family.name for family in text_string_to_metric_families(metrics["prometheus"])}
    assert "process_resident_memory_bytes" in families
    assert "plutono_plugin_requests" in families  # prometheus_client drops "_total"

    answer = go_host.query([{"ref_id": "A", "query_type": "sine", "json": {"amplitude": 2}}])
    assert answer["ok"], answer
    response = answer["responses"]["A"]
    assert response["error"] == ""
    (frame_b64,) = response["frames_base64"]
    table = pa.ipc.open_file(pa.BufferReader(base64.b64decode(frame_b64))).read_all()
    assert table.column_names == ["time", "value"]
    assert table.num_rows == 100  # Plutono's default maxDataPoints over the default hour
    assert max(abs(v) for v in table.column("value").to_pylist()) <= 2.0


def test_log_records_arrive_at_their_level_and_odd_values_as_text(
    go_host: GoHost, lifecycle_dir: Path
) -> None:
    assert go_host.start(lifecycle_dir, LIFECYCLE_ID)["ok"]
    answer = go_host.query([{"ref_id": "A", "query_type": "log"}])
    assert answer["ok"] and answer["responses"]["A"]["error"] == "", answer
    deadline = time.monotonic() + 5
    while True:
        records = plugin_records(go_host)
        by_message = {str(record["message"]): record for record in records}
        if "with a traceback" in by_message or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    levels = {message: by_message[message]["level"] for message in by_message}
    assert levels["a debug record"] == "debug"
    assert levels["an info record"] == "info"
    assert levels["a warn record"] == "warn"
    assert levels["an error record"] == "error"
    assert levels["12345"] == "info"  # a number as message arrived as text
    assert "{'a': 1}" in by_message
    kv = by_message["{'a': 1}"]["kv"]
    assert isinstance(kv, dict)
    assert kv["count"] == "3" and kv["ratio"] == "nan"
    assert "bytes" in kv["blob"]
    assert "KeyError" in by_message["with a traceback"]["kv"]["traceback"]  # type: ignore[index]
    assert any(m.startswith("<unprintable Unprintable") for m in by_message)
    long = [m for m in by_message if m.startswith("yyyy")]
    assert long and long[0].endswith("[truncated]")
    # None of it reached the host as a raw (unparsed) line, and the host still answers.
    assert not [r for r in records if '"@message"' in str(r["message"])]
    assert go_host.ping()["ok"]


def test_kill_is_graceful_and_fast(go_host: GoHost, lifecycle_dir: Path) -> None:
    assert go_host.start(lifecycle_dir, LIFECYCLE_ID)["ok"]
    killed = go_host.kill()
    assert killed["exited"] and killed["graceful"], killed
    assert killed["elapsed_ms"] < 1000
    exited = go_host.exited()
    assert exited["exit_code"] == 0, exited
    messages = [str(record["message"]) for record in go_host.logs()["records"]]
    assert not [m for m in messages if "failed to exit gracefully" in m]


def test_in_flight_call_is_answered_before_kill_completes(
    go_host: GoHost, lifecycle_dir: Path
) -> None:
    assert go_host.start(lifecycle_dir, LIFECYCLE_ID)["ok"]
    job = go_host.query_in_background(
        [{"ref_id": "A", "query_type": "slow", "json": {"durationMs": 700}}]
    )
    time.sleep(0.2)
    killed = go_host.kill()
    answer = go_host.wait(job)
    assert answer["ok"], answer
    assert answer["responses"]["A"]["error"] == ""
    assert killed["graceful"] and go_host.exited()["exit_code"] == 0


def test_call_beyond_the_grace_period_is_cancelled_and_exit_stays_graceful(
    go_host: GoHost, lifecycle_dir: Path
) -> None:
    assert go_host.start(lifecycle_dir, LIFECYCLE_ID)["ok"]
    job = go_host.query_in_background(
        [{"ref_id": "A", "query_type": "slow", "json": {"durationMs": 10_000}}]
    )
    time.sleep(0.2)
    killed = go_host.kill()
    assert killed["graceful"] and killed["elapsed_ms"] < 2000, killed
    answer = go_host.wait(job)
    assert not answer["ok"]  # cancelled: the host sees a gRPC error, not a hang
    assert go_host.exited()["exit_code"] == 0


def test_sigterm_exits_0_and_sigint_is_ignored(go_host: GoHost, lifecycle_dir: Path) -> None:
    assert go_host.start(lifecycle_dir, LIFECYCLE_ID)["ok"]
    assert go_host.signal("INT")["ok"]
    time.sleep(0.3)
    assert go_host.ping()["ok"] and not go_host.exited()["exited"]
    assert go_host.signal("TERM")["ok"]
    exited = go_host.wait_exited(5)
    assert exited["exit_code"] == 0, exited


def test_plugin_exits_when_the_host_is_sigkilled(go_host: GoHost, lifecycle_dir: Path) -> None:
    pid = go_host.start(lifecycle_dir, LIFECYCLE_ID)["pid"]
    os.kill(go_host.pid, signal.SIGKILL)
    started = time.monotonic()
    while _alive(pid):
        assert time.monotonic() - started < 2.0, "orphaned plugin still running after 2 s"
        time.sleep(0.05)


def test_killed_plugin_is_restarted_by_the_host_and_serves(
    go_host: GoHost, quickstart_dir: Path
) -> None:
    first = go_host.start(quickstart_dir, QUICKSTART_ID)
    assert go_host.watch_restart()["ok"]
    assert go_host.signal("KILL")["ok"]
    deadline = time.monotonic() + 10
    while go_host.restarts()["restarts"] < 1:
        assert time.monotonic() < deadline, go_host.restarts()
        time.sleep(0.1)
    assert go_host.restarts()["pid"] != first["pid"]
    assert go_host.ping()["ok"]
    assert go_host.check_health()["status"] == "OK"


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_services_without_handlers_are_unimplemented_as_plutono_expects(
    go_host: GoHost, healthonly_dir: Path
) -> None:
    assert go_host.start(healthonly_dir, "plutono-healthonly-test-app")["ok"]
    resource = go_host.resource("anything")
    # Plutono maps exactly this code to 404 "Not found" (contract 2.3); Unknown would be a 500.
    assert resource["grpc_code"] == "Unimplemented", resource
    query = go_host.query([{"ref_id": "A"}])
    assert query["grpc_code"] == "Unimplemented", query
    health = go_host.check_health({"org_id": 7, "app": {"json_data": {}}})
    assert health["status"] == "OK" and health["details_json"] == '{"org":7}', health
