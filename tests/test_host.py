"""The dev host: handshake and log parsing, launching real processes, driving real plugins.

Process tests use tiny plugin directories whose executable is a shell script (a real child
process, launched exactly like a plugin); end-to-end tests drive the Go reference plugin built
with grafana-plugin-sdk-go v0.88.0 (``tests/interop/goref``) through the public test helper and
the CLI.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plutono_plugin._convert import plugin_context_from_proto
from plutono_plugin._host_proto import data_query, go_json, parse_time, plugin_context_to_proto
from plutono_plugin.context import DataSourceSettings, PluginContext, Secrets, User
from plutono_plugin.errors import ConfigurationError, HandshakeError
from plutono_plugin.frame import FieldType, Frame
from plutono_plugin.host import (
    PluginExitedError,
    PluginHost,
    executable_path,
    main,
    parse_handshake,
    parse_log_line,
    plugin_environment,
    read_manifest,
    target,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="shell-script plugins")

# -- handshake line (contract 1.6) ---------------------------------------------------------------


def test_handshake_unix_and_tcp_lines_parse() -> None:
    unix = parse_handshake("1|2|unix|/tmp/plugin123|grpc|\n")
    assert (unix.network, unix.address, unix.protocol, unix.server_cert) == (
        "unix",
        "/tmp/plugin123",
        "grpc",
        "",
    )
    tcp = parse_handshake("  1|2|tcp|127.0.0.1:10000|grpc|\r\n")
    assert (tcp.network, tcp.address, tcp.app_version) == ("tcp", "127.0.0.1:10000", 2)


def test_handshake_without_sixth_field_and_with_short_extra_field_is_accepted() -> None:
    assert parse_handshake("1|2|unix|/tmp/p|grpc").server_cert == ""
    # go-plugin only reads field 6 when it is longer than 50 characters.
    assert parse_handshake("1|2|unix|/tmp/p|grpc|extra").server_cert == "extra"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hello world", "Unrecognized remote plugin message"),
        ("1|2|unix", "Unrecognized remote plugin message"),
        ("", "Unrecognized remote plugin message"),
        ("x|2|unix|/tmp/p|grpc|", "Error parsing core protocol version"),
        ("2|2|unix|/tmp/p|grpc|", "Incompatible core API version"),
        ("1|two|unix|/tmp/p|grpc|", "Error parsing protocol version"),
        ("1|3|unix|/tmp/p|grpc|", "Incompatible API version with plugin. Plugin version: 3"),
        ("1|1|unix|/tmp/p|grpc|", "legacy"),
        ("1|2|pipe|/tmp/p|grpc|", "Unknown address type: /tmp/p"),
        ("1|2|tcp|localhost|grpc|", "not a 'host:port'"),
        ("1|2|unix|/tmp/p", 'Unsupported plugin protocol "netrpc"'),
        ("1|2|unix|/tmp/p|netrpc|", 'Unsupported plugin protocol "netrpc"'),
        ("1|2|unix|/tmp/p|grpc|" + "A" * 51, "AutoMTLS"),
    ],
)
def test_handshake_failures_name_the_problem(line: str, expected: str) -> None:
    with pytest.raises(HandshakeError, match=expected.replace("(", r"\(").replace(".", r"\.")):
        parse_handshake(line)


# -- stderr log lines (contract 1.11) ------------------------------------------------------------


def test_hclog_json_line_becomes_a_record_with_fields() -> None:
    line = json.dumps(
        {
            "@level": "warn",
            "@message": "slow query",
            "@timestamp": "2021-02-11T15:30:53.123456+01:00",
            "@module": "plugin",
            "refId": "A",
            "ms": 1500,
        }
    )
    record, problem = parse_log_line(line)
    assert problem is None
    assert (record.level, record.message) == ("warn", "slow query")
    assert record.fields == {"@module": "plugin", "refId": "A", "ms": 1500}
    assert record.timestamp == datetime(2021, 2, 11, 14, 30, 53, 123456, tzinfo=UTC)
    assert "slow query" in str(record) and "refId=A" in str(record)


@pytest.mark.parametrize(
    ("line", "level"),
    [("[WARN] disk almost full", "warn"), ("[ERROR] boom", "error"), ("plain text", "debug")],
)
def test_non_json_lines_are_raw_with_the_prefix_level(line: str, level: str) -> None:
    record, problem = parse_log_line(line)
    assert (record.level, record.message, problem) == (level, line, None)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"@level": "info", "@message": 42}, "crashes"),
        ({"@level": 3, "@message": "x"}, "crashes"),
        ({"@level": "info", "@message": "x", "@timestamp": "2021-02-11T15:30:53.123Z"}, "layout"),
        (
            {"@level": "info", "@message": "x", "@timestamp": "2021-02-11T15:30:53.123456+0100"},
            "layout",
        ),
        ({"@level": "notice", "@message": "x"}, "no known @level"),
        ({"@message": "x"}, "no known @level"),
    ],
)
def test_log_lines_plutono_mishandles_are_raw_debug_and_reported(
    entry: dict[str, object], expected: str
) -> None:
    line = json.dumps(entry)
    record, problem = parse_log_line(line)
    assert (record.level, record.message) == ("debug", line)
    assert problem is not None and expected in problem


# -- requests as Plutono builds them (contract 2.4.1) ----------------------------------------------


def test_times_accept_epoch_ms_relative_and_datetimes() -> None:
    now = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)
    assert parse_time("1500", now=now) == 1500
    assert parse_time(1500) == 1500
    assert parse_time("now-6h", now=now) == int(now.timestamp() * 1000) - 6 * 3_600_000
    assert parse_time("now-1M", now=now) == int(
        datetime(2024, 2, 29, 12, tzinfo=UTC).timestamp() * 1000
    )
    assert parse_time(now) == int(now.timestamp() * 1000)
    with pytest.raises(ValueError, match="cannot read time 'yesterday'"):
        parse_time("yesterday")
    with pytest.raises(ValueError, match="no timezone"):
        parse_time(datetime(2024, 1, 1))


def test_data_query_has_plutonos_defaults_and_go_encoded_json() -> None:
    query = data_query(
        {"queryType": "sine", "expr": "a<b&c", "from": "1000", "to": "2000"},
        ("now-6h", "now"),
        datasource_id=7,
    )
    assert (query.ref_id, query.query_type, query.max_data_points, query.interval_ms) == (
        "A",
        "sine",
        100,
        1000,
    )
    assert query.time_range is not None
    assert (query.time_range.from_epoch_ms, query.time_range.to_epoch_ms) == (1000, 2000)
    assert query.json == (
        b'{"datasourceId":7,"expr":"a\\u003cb\\u0026c","intervalMs":1000,'
        b'"maxDataPoints":100,"queryType":"sine","refId":"A"}'
    )
    assert json.loads(go_json({"k": "<>"})) == {"k": "<>"}
    with pytest.raises(ValueError, match="maxDataPoints must be a number"):
        data_query({"maxDataPoints": "many"}, ("now-1h", "now"))


def test_plugin_context_survives_the_trip_through_proto() -> None:
    context = PluginContext(
        org_id=3,
        plugin_id="my-ds",
        user=User(login="ann", name="Ann", email="ann@example.com", role="Editor"),
        datasource=DataSourceSettings(
            id=9,
            name="prod",
            url="http://db",
            basic_auth_enabled=True,
            basic_auth_user="u",
            raw_json_data=b'{"timeout": 5}',
            decrypted_secure_json_data=Secrets({"password": "pw"}),
            last_updated_ms=1_700_000_000_000,
        ),
    )
    back = plugin_context_from_proto(plugin_context_to_proto(context))
    assert back.org_id == 3 and back.plugin_id == "my-ds" and back.user == context.user
    assert back.datasource is not None
    assert back.datasource.json_data == {"timeout": 5}
    assert back.datasource.decrypted_secure_json_data["password"] == "pw"
    assert (back.datasource.url, back.datasource.basic_auth_user) == ("http://db", "u")
    assert back.app is None


def test_target_builds_frontend_json() -> None:
    assert target("B", query_type="sine", amplitude=2) == {
        "refId": "B",
        "queryType": "sine",
        "amplitude": 2,
    }


# -- launching like Plutono (contract 1.1, 1.2, 2.1) ----------------------------------------------


def test_environment_order_lets_the_host_environment_and_go_plugin_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PL_PLUGIN_OVERRIDDEN", "from-plutono-env")
    monkeypatch.setenv("grafana_plugin_type", "wrong")
    environment = plugin_environment(
        "my-ds",
        plugin_settings={"api_url": "http://x", "overridden": "ini", "path": "/p", "ID": "x"},
        env={"EXTRA": "1"},
    )
    assert environment["PL_PLUGIN_API_URL"] == "http://x"
    assert environment["PL_PLUGIN_OVERRIDDEN"] == "from-plutono-env"
    assert "PL_PLUGIN_PATH" not in environment and "PL_PLUGIN_ID" not in environment
    assert (environment["PL_VERSION"], environment["PL_EDITION"]) == ("7.5.49", "Open Source")
    assert environment["EXTRA"] == "1"
    assert environment["grafana_plugin_type"] == "datasource"
    assert (environment["PLUGIN_MIN_PORT"], environment["PLUGIN_MAX_PORT"]) == ("10000", "25000")
    assert environment["PLUGIN_PROTOCOL_VERSIONS"] in ("1,2", "2,1")


def _write_plugin(folder: Path, script: str, *, plugin_type: str = "datasource") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"id": "test-ds", "type": plugin_type, "backend": True, "executable": "gpx_test"}
    (folder / "plugin.json").write_text(json.dumps(manifest))
    path = executable_path(read_manifest(folder))
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return folder


def test_manifest_and_executable_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a plugin directory"):
        read_manifest(tmp_path)
    (tmp_path / "plugin.json").write_text('{"id": "x", "type": "datasource"}')
    with pytest.raises(ConfigurationError, match='"backend": true'):
        read_manifest(tmp_path)
    folder = _write_plugin(tmp_path / "p", "exit 0\n")
    name = executable_path(read_manifest(folder)).name
    assert name.startswith("gpx_test_") and name.count("_") == 3


@posix_only
async def test_missing_or_not_executable_binaries_are_reported(tmp_path: Path) -> None:
    folder = _write_plugin(tmp_path / "p", "exit 0\n")
    path = executable_path(read_manifest(folder))
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="not executable"):
        await PluginHost.launch(folder)
    renamed = path.with_name("gpx_test_plan9_mips")
    path.rename(renamed)
    with pytest.raises(ConfigurationError, match="does not exist; found: gpx_test_plan9_mips"):
        await PluginHost.launch(folder)


@posix_only
async def test_bad_handshake_from_a_real_process_is_rejected(tmp_path: Path) -> None:
    folder = _write_plugin(tmp_path / "p", "echo 'starting up...'\necho oops >&2\nsleep 30\n")
    started = time.monotonic()
    with pytest.raises(HandshakeError, match="Unrecognized remote plugin message") as caught:
        await PluginHost.launch(folder)
    assert "oops" in str(caught.value)
    assert time.monotonic() - started < 10  # the sleeping child was killed, not waited for


@posix_only
async def test_early_exit_reports_exit_code_and_stderr(tmp_path: Path) -> None:
    script = (
        'echo "cwd=$(pwd) cookie=$grafana_plugin_type versions=$PLUGIN_PROTOCOL_VERSIONS" >&2\n'
    )
    script += 'echo "pl=$PL_VERSION setting=$PL_PLUGIN_REGION" >&2\nexit 3\n'
    folder = _write_plugin(tmp_path / "p", script)
    with pytest.raises(PluginExitedError) as caught:
        await PluginHost.launch(folder, plugin_settings={"region": "eu"})
    error = caught.value
    assert error.returncode == 3 and "exit code 3" in str(error)
    assert "cookie=datasource" in error.stderr and "pl=7.5.49 setting=eu" in error.stderr
    assert f"cwd={folder.resolve()}" not in error.stderr  # Plutono does not chdir (contract 1.1)
    assert "versions=1,2" in error.stderr or "versions=2,1" in error.stderr


@posix_only
async def test_relative_plugin_dir_works_although_the_plugin_runs_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_plugin(tmp_path / "plugins" / "p", "echo started >&2\nexit 4\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PluginExitedError, match="exit code 4"):
        await PluginHost.launch(os.path.join("plugins", "p"))


@posix_only
async def test_version_one_answer_is_refused(tmp_path: Path) -> None:
    folder = _write_plugin(tmp_path / "p", "echo '1|1|unix|/tmp/nowhere|grpc|'\nsleep 30\n")
    with pytest.raises(HandshakeError, match="legacy"):
        await PluginHost.launch(folder)


@posix_only
async def test_silent_plugin_hits_the_start_timeout(tmp_path: Path) -> None:
    folder = _write_plugin(tmp_path / "p", "echo still thinking >&2\nexec sleep 30\n")
    with pytest.raises(HandshakeError, match="timeout while waiting for plugin to start"):
        await PluginHost.launch(folder, start_timeout=0.5)


@posix_only
async def test_unresponsive_plugin_is_killed_after_two_seconds(tmp_path: Path) -> None:
    lines = [
        "echo '1|2|unix|/nonexistent/plugin.sock|grpc|'",
        "echo 'stray print'",
        """echo '{"@level": "info", "@message": "ready", "port": 1}' >&2""",
        """echo '{"@level": "info", "@message": 7}' >&2""",
        "exec sleep 30",
    ]
    folder = _write_plugin(tmp_path / "p", "\n".join(lines) + "\n")
    async with PluginHost.start(folder) as host:
        assert host.handshake.address == "/nonexistent/plugin.sock"
        record = await host.wait_for_log("ready")
        assert (record.level, record.fields) == ("info", {"port": 1})
        result = await host.stop()
    assert not result.graceful and result.exit_code == -9
    assert 2.0 <= result.seconds < 10
    assert any("stdout after the handshake" in problem for problem in host.problems)
    assert any("crashes" in problem for problem in host.problems)
    assert not os.path.exists(host.cwd)  # noqa: ASYNC240 -- the temporary cwd is removed
    assert await host.stop() == result  # idempotent


@posix_only
async def test_wait_for_log_times_out_listing_what_was_seen(tmp_path: Path) -> None:
    script = "echo '1|2|unix|/nonexistent/p.sock|grpc|'\necho '[INFO] hello' >&2\nexec sleep 30\n"
    async with PluginHost.start(_write_plugin(tmp_path / "p", script)) as host:
        with pytest.raises(TimeoutError, match=r"\[INFO\] hello"):
            await host.wait_for_log("never", timeout=0.3)
        assert host.returncode is None


# -- end to end against the Go reference plugin (SDK v0.88.0) ------------------------------------


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
def quickstart_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from plutono_plugin._build import build_plugin_dir
    from tests._tools import ROOT

    output = tmp_path_factory.mktemp("plugins") / "quickstart"
    return build_plugin_dir(ROOT / "examples" / "quickstart", output).directory


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


_TCP_PLUGIN = """
from plutono_plugin import Field, Frame, Plugin, Query

plugin = Plugin(network="tcp")


@plugin.query()
async def answer(query: Query) -> Frame:
    return Frame("answer", [Field("value", [42])])
"""


@posix_only
async def test_tcp_handshake_connects_within_the_port_range(tmp_path: Path) -> None:
    from plutono_plugin._build import build_plugin_dir

    source = tmp_path / "src"
    source.mkdir()
    manifest = {"id": "tcp-ds", "type": "datasource", "backend": True, "executable": "gpx_tcp"}
    (source / "plugin.json").write_text(json.dumps(manifest))
    (source / "tcp_plugin.py").write_text(_TCP_PLUGIN)
    folder = build_plugin_dir(source, tmp_path / "tcp-ds", entry="tcp_plugin:plugin").directory
    async with PluginHost.start(folder) as host:
        assert host.handshake.network == "tcp"
        address, _, port = host.handshake.address.rpartition(":")
        assert address == "127.0.0.1" and 10000 <= int(port) <= 25000
        frames, error = (await host.query({"refId": "A"}))["A"]
    assert error == "" and frames[0].field("value").values == [42]
