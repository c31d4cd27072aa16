"""The dev host driving real plugins: the Go reference plugin and the Python quickstart."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from plutono_plugin.cli.host import run as main
from plutono_plugin.frame import FieldType, Frame
from plutono_plugin.host import PluginHost, target

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="shell-script plugins")


@pytest.fixture(scope="module")
def goref_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.interop.gohost import goref_plugin_dir

    return goref_plugin_dir(tmp_path_factory.mktemp("plugins"))


@pytest.fixture
async def goref(goref_dir: Path) -> AsyncIterator[PluginHost]:
    async with PluginHost.start(goref_dir, plugin_settings={"region": "eu"}) as host:
        yield host


@pytest.mark.go
async def test_go_plugin_answers_health_ping_and_metrics(goref: PluginHost) -> None:
    assert goref.handshake.protocol == "grpc" and goref.handshake_seconds > 0
    assert await goref.ping()
    health = await goref.check_health()
    assert (health.ok, health.message) == (True, "plugin is running")
    assert "go_goroutines" in await goref.collect_metrics()


@pytest.mark.go
async def test_go_plugin_query_frames_and_errors(goref: PluginHost) -> None:
    responses = await goref.query(
        target("A", query_type="sine", maxDataPoints=20),
        {"refId": "B", "queryType": "nope"},
        time_range=("now-1h", "now"),
    )
    frames, error = responses["A"]
    assert error == "" and len(frames) == 1
    frame = frames[0]
    assert isinstance(frame, Frame) and frame.rows == 20
    assert [field.type for field in frame.fields] == [FieldType.TIME, FieldType.FLOAT64]
    assert responses["B"].error == "no handler found for query type 'nope'"


@pytest.mark.go
async def test_go_plugin_resources_stream_and_see_the_launch(goref: PluginHost) -> None:
    ping = await goref.call_resource("GET", "/ping")
    assert (ping.status, ping.json()) == (200, {"ok": True})
    assert ping.headers["Content-Type"] == ["application/json"]
    stream = await goref.call_resource("GET", "stream")
    assert stream.chunks == [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n"]
    launch = (await goref.call_resource("GET", "process")).json()
    assert launch["args"] == [os.fspath(goref.executable)]
    assert launch["cwd"] != os.fspath(goref.manifest.directory)
    assert launch["env"]["PL_PLUGIN_REGION"] == "eu"
    assert launch["env"]["grafana_plugin_type"] == "datasource"


@pytest.mark.go
async def test_go_plugin_logs_and_graceful_stop(goref: PluginHost) -> None:
    await goref.query({"refId": "C", "queryType": "error", "message": "on purpose"})
    record = await goref.wait_for_log("query failed on purpose")
    assert record.level == "warn" and record.fields["refId"] == "C"
    result = await goref.stop()
    assert result.graceful and result.exit_code == 0 and result.seconds < 2
    assert goref.problems == []


@pytest.mark.go
def test_cli_drives_the_go_plugin(goref_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([os.fspath(goref_dir), "health"]) == 0
    assert "OK: plugin is running" in capsys.readouterr().out

    assert main([os.fspath(goref_dir), "query", '{"refId": "A", "queryType": "sine"}']) == 0
    out = capsys.readouterr().out
    assert "refId A: 1 frame(s)" in out and "float64" in out

    assert (
        main([os.fspath(goref_dir), "query", '[{"refId": "Z", "queryType": "x"}]', "--json"]) == 1
    )
    assert "no handler found" in json.loads(capsys.readouterr().out)["results"]["Z"]["error"]

    assert main([os.fspath(goref_dir), "query", '{"refId": "A"}', "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)["results"]["A"]["dataframes"][0]
    assert Frame.decode(base64.b64decode(payload)).rows == 100

    assert main([os.fspath(goref_dir), "resource", "GET", "ping"]) == 0
    assert "HTTP 200" in capsys.readouterr().out

    assert main([os.fspath(goref_dir), "demo"]) == 0
    demo = capsys.readouterr().out
    for heading in ("handshake", "health      OK", "query", "metrics", "resource", "stop", "logs"):
        assert heading in demo
    assert "exited gracefully" in demo


def test_cli_reports_a_directory_that_is_no_plugin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([os.fspath(tmp_path), "health"]) == 2
    assert "not a plugin directory" in capsys.readouterr().err


# -- end to end against the Python example, as `make demo` runs it ------------------------------


@pytest.fixture(scope="module")
def quickstart_dir(request: pytest.FixtureRequest) -> Path:
    """This module's own quickstart build, made before the first test (``tests/_prebuilt.py``)."""
    from tests._prebuilt import prebuilt

    return prebuilt(request, "host_quickstart_dir")


@posix_only
async def test_python_example_in_a_few_lines(quickstart_dir: Path) -> None:
    async with PluginHost.start(quickstart_dir) as host:
        assert (await host.check_health()).ok
        responses = await host.query(
            target("A", query_type="sine"),
            target("E", query_type="error", message="boom"),
            target("T", query_type="table"),
        )
        assert responses["A"].error == "" and responses["A"].frames[0].rows == 100
        assert responses["E"] == ([], "boom")
        table_types = [field.type for field in responses["T"].frames[0].fields]
        assert {FieldType.TIME, FieldType.STRING, FieldType.BOOL} <= set(table_types)
        echo = await host.call_resource(
            "POST", "/echo?x=1&x=2", body="hi", headers={"Content-Type": "text/plain"}
        )
        assert echo.json()["query"] == {"x": ["1", "2"]} and echo.json()["body"] == "hi"
        stream = await host.call_resource("GET", "stream?chunks=4")
        assert len(stream.chunks) == 4 and stream.body.startswith(b"chunk 0\n")
        assert "quickstart_queries_served" in await host.collect_metrics()
        result = await host.stop()
    assert result.graceful and result.exit_code == 0
    assert host.problems == []  # nothing Plutono would choke on: clean stdout, valid hclog


@posix_only
async def test_python_example_sees_the_configured_datasource(quickstart_dir: Path) -> None:
    async with PluginHost.start(quickstart_dir, json_data={"fail": True}) as host:
        health = await host.check_health()
    assert (health.status, health.ok) == ("ERROR", False)
    assert "fail" in health.message


@posix_only
def test_cli_demo_drives_the_python_example(
    quickstart_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([os.fspath(quickstart_dir), "demo"]) == 0
    demo = capsys.readouterr().out
    assert "health      OK" in demo and "refId A: 1 frame(s)" in demo
    assert "GET ping -> 200" in demo and "exited gracefully" in demo
    assert main([os.fspath(quickstart_dir), "resource", "GET", "items/7"]) == 0
    assert '"id":7' in capsys.readouterr().out.replace(" ", "")
