"""Bad-input catalogue, data side (issue 17 items 1-4, 7, 10, 11 and parts of 16).

What a hostile query user, a careless datasource admin or a careless plugin author sends to the
SQL example, the HTTP client, the logs and the macros. Every case failed on the code before the
hardening; each now gets a clear error (or is harmless) and the process keeps serving. Real
peers throughout: SQLite, a local HTTP server, the framework's in-memory gRPC services.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from plutono_plugin import (
    ConfigurationError,
    DataSourceSettings,
    Field,
    Frame,
    Plugin,
    Query,
    QueryError,
    RequestContext,
    ResourceRequest,
    ResourceResponse,
    Secrets,
)
from plutono_plugin._runtime.hclog import HclogFormatter
from plutono_plugin.context import PluginContext
from plutono_plugin.http import HTTPSettings, http_client
from plutono_plugin.macros import MacroContext, expand_macros
from plutono_plugin.query import TimeRange
from plutono_plugin.testing import PluginTestClient, target
from tests._tools import load_example

NOW = 1_600_000_000 // 60 * 60


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "sample.sqlite"
    load_example("sql").create_sample_database(path, now=NOW)
    return path


_VERSIONS = itertools.count(1)


def sql_context(path: Path | None, datasource_id: int = 5, **json_data: Any) -> PluginContext:
    """A datasource context; each one a new settings version (instances are cached by it)."""
    data = {**json_data, **({"path": str(path)} if path is not None else {})}
    datasource = DataSourceSettings(
        id=datasource_id,
        name="sql",
        raw_json_data=json.dumps(data).encode(),
        last_updated_ms=next(_VERSIONS),
    )
    return PluginContext(org_id=1, plugin_id="sql", datasource=datasource)


async def sql_error(context: PluginContext, raw_sql: str) -> str:
    async with PluginTestClient(load_example("sql").plugin) as client:
        reply = await client.query(target("A", rawSql=raw_sql, format="table"), context=context)
    return reply["A"].error


# --- item 1: "read-only" queries wrote files and leaked a native pointer ------------------


@pytest.mark.parametrize(
    ("statement", "refused"),
    [
        ("VACUUM INTO '{target}'", "ATTACH (or VACUUM)"),
        ("ATTACH '{target}' AS x", "ATTACH (or VACUUM)"),
        ("SELECT fts3_tokenizer('simple')", "the function fts3_tokenizer()"),
        ("PRAGMA writable_schema = 1", "PRAGMA writable_schema"),
        ("CREATE TEMP TABLE t (x)", "changing the schema"),
        ("DROP TABLE metrics", "changing the schema"),
        ("BEGIN", "TRANSACTION"),
    ],
)
async def test_sql_cannot_write_or_leak(
    sample_db: Path, tmp_path: Path, statement: str, refused: str
) -> None:
    written = tmp_path / "out.sqlite"

    error = await sql_error(sql_context(sample_db), statement.format(target=written))

    assert error == f"the datasource is read-only: {refused} is not allowed"
    assert not written.exists()


# --- item 2: one query exhausted memory under the row limit --------------------------------


async def test_sql_huge_values_are_refused_before_they_are_built(sample_db: Path) -> None:
    error = await sql_error(
        sql_context(sample_db), "SELECT zeroblob(100000000) FROM metrics LIMIT 20"
    )

    assert error == "SQL error: string or blob too big (the byte limit is 64 MiB)"


async def test_sql_rows_are_cut_at_the_byte_budget(sample_db: Path) -> None:
    async with PluginTestClient(load_example("sql").plugin) as client:
        reply = await client.query(
            target("A", rawSql="SELECT randomblob(200000) AS junk FROM metrics", format="table"),
            context=sql_context(sample_db, byteLimitMib=2),
        )

    [frame] = reply["A"].frames
    assert reply["A"].error == "" and 0 < frame.rows < 11
    assert frame.meta is not None
    assert [n.text.split(":")[1].strip() for n in frame.meta.notices] == [
        "they reached the byte limit of 2 MiB; narrow the time range or the query"
    ]


async def test_sql_a_high_row_limit_is_still_bounded_in_bytes(sample_db: Path) -> None:
    many = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 200000) "
        "SELECT x FROM c"
    )
    async with PluginTestClient(load_example("sql").plugin) as client:
        reply = await client.query(
            target("A", rawSql=many, format="table"),
            context=sql_context(sample_db, rowLimit=10_000_000, byteLimitMib=2),
        )

    [frame] = reply["A"].frames
    assert 5_000 < frame.rows < 50_000  # ~76 bytes a row: 2 MiB is about 27,000 rows
    assert frame.meta is not None and "byte limit of 2 MiB" in frame.meta.notices[0].text


# --- item 3: abandoned queries never stopped ------------------------------------------------

ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"


async def test_sql_a_cancelled_endless_query_stops_its_thread(sample_db: Path) -> None:
    example = load_example("sql")
    db = example.Database(sample_db, 10, "1ms", timeout=3600)
    for _ in range(4):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(example.run_query(db, ENDLESS), 0.2)
    await asyncio.sleep(0.5)  # SQLite looks at the stop flag every few thousand instructions

    before = time.process_time()
    await asyncio.sleep(1.5)
    busy = time.process_time() - before

    assert busy < 0.5, f"{busy:.2f} s of CPU while idle: a cancelled query kept running"


# --- item 10: the default database path was predictable and shared ------------------------


async def test_sql_a_symlink_planted_as_the_default_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    other = tmp_path / "someone-elses"
    other.mkdir()
    planted = tmp_path / f"plutono-sql-example-{os.getuid()}"
    planted.symlink_to(other)

    async with PluginTestClient(load_example("sql").plugin) as client:
        health = await client.check_health(context=sql_context(None, datasource_id=9))

    assert health.status == "ERROR"
    assert f"the default database directory {planted} is a symbolic link" in health.message
    assert list(other.iterdir()) == []


async def test_sql_an_open_default_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    (tmp_path / f"plutono-sql-example-{os.getuid()}").mkdir(mode=0o777)
    os.chmod(tmp_path / f"plutono-sql-example-{os.getuid()}", 0o777)

    async with PluginTestClient(load_example("sql").plugin) as client:
        health = await client.check_health(context=sql_context(None, datasource_id=9))

    assert health.status == "ERROR" and "is open to other users (mode 0777" in health.message


def test_sql_creating_a_database_leaves_files_beside_it_alone(tmp_path: Path) -> None:
    # The scratch file was "<name>.partial" beside the path, deleted first: a file of that
    # name in the folder a datasource's path names was lost.
    neighbour = tmp_path / "notes.partial"
    neighbour.write_text("not the plugin's")

    load_example("sql").create_sample_database(tmp_path / "notes.sqlite", now=NOW)

    assert neighbour.read_text() == "not the plugin's"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.partial", "notes.sqlite"]


@pytest.mark.parametrize("outside", ["/etc/passwd", "../escape.sqlite", "link/outside.sqlite"])
async def test_sql_a_database_path_outside_the_root_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outside: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)  # a link inside the root that leads out of it
    monkeypatch.setenv("PL_PLUGIN_DATABASE_ROOT", str(root))

    async with PluginTestClient(load_example("sql").plugin) as client:
        health = await client.check_health(context=sql_context(Path(outside)))

    assert health.status == "ERROR"
    assert f"database file '{outside}' is outside the database root {root}" in health.message
    assert "database_root" in health.message
    assert sorted(os.listdir(tmp_path)) == ["root"]  # nothing created outside


async def test_sql_a_relative_database_path_is_created_inside_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PL_PLUGIN_DATABASE_ROOT", str(tmp_path))

    async with PluginTestClient(load_example("sql").plugin) as client:
        health = await client.check_health(context=sql_context(Path("team/a.sqlite")))

    assert health.status == "OK", health.message
    assert (tmp_path / "team" / "a.sqlite").is_file()


@pytest.mark.parametrize(
    ("json_data", "problem"),
    [
        ({"rowLimit": 1e21}, "expected int, got float"),
        ({"rowLimit": 0}, "row_limit must be a positive integer"),
        ({"timeout": float("inf")}, "field 'timeout': inf is not a finite number"),
        ({"timeInterval": "99999999999w"}, "is too long"),
    ],
)
async def test_sql_bad_settings_fail_save_and_test(
    sample_db: Path, json_data: dict[str, Any], problem: str
) -> None:
    async with PluginTestClient(load_example("sql").plugin) as client:
        health = await client.check_health(context=sql_context(sample_db, **json_data))

    assert health.status == "ERROR" and problem in health.message


# --- items 4, 11 and 16: the HTTP client ----------------------------------------------------


class _Upstream(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/login":
            self.send_response(204)
            self.send_header("Set-Cookie", "session=alice-upstream-session; Path=/")
            self.end_headers()
            return
        body = json.dumps({"path": self.path, "cookie": self.headers.get("Cookie")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class _Server:
    url: str
    port: int


@pytest.fixture
def upstream() -> Iterator[_Server]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield _Server(f"http://127.0.0.1:{server.server_address[1]}", server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join(5)


def http_settings(
    url: str, json_data: dict[str, Any], secrets: dict[str, str]
) -> DataSourceSettings:
    return DataSourceSettings(
        id=3,
        name="api",
        url=url,
        raw_json_data=json.dumps(json_data).encode(),
        decrypted_secure_json_data=Secrets(secrets),
    )


async def test_http_one_users_cookie_never_goes_out_with_another_call(upstream: _Server) -> None:
    async with http_client(http_settings(upstream.url, {}, {})) as client:
        await client.get("/login")  # user A's call: the upstream sets a session cookie
        seen = (await client.get("/data")).json()  # user B's call, or an alert query

    assert seen["cookie"] is None


async def test_http_loopback_is_never_proxied(
    upstream: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: proxied = failure

    async with http_client(http_settings(f"http://localhost:{upstream.port}", {}, {})) as client:
        by_name = (await client.get("/a")).json()
    async with http_client(http_settings(upstream.url, {}, {})) as client:
        by_address = (await client.get("/b")).json()

    assert (by_name["path"], by_address["path"]) == ("/a", "/b")


@pytest.mark.parametrize(
    ("json_data", "secrets", "problem"),
    [
        ({"timeout": "1e309"}, {}, "jsonData.timeout must be a positive, finite number"),
        ({"timeout": "-inf"}, {}, "jsonData.timeout must be a positive, finite number"),
        ({"timeout": float("nan")}, {}, "jsonData.timeout must be a positive, finite number"),
        ({"timeout": 10**400}, {}, "jsonData.timeout must be a positive, finite number"),
        (
            {"httpHeaderName1": "X-Tenant"},
            {"httpHeaderValue1": "x\r\nX-Admin: yes"},
            "httpHeaderValue1 contains a line break",
        ),
        ({"httpHeaderName1": "X-Bad:Name"}, {}, "httpHeaderName1 must be a header name"),
        ({"httpHeaderName1": "X Bad"}, {}, "httpHeaderName1 must be a header name"),
    ],
)
def test_http_hostile_settings_are_named(
    json_data: dict[str, Any], secrets: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        HTTPSettings.from_datasource(http_settings("http://x", json_data, secrets))
    assert "datasource 'api' (id 3)" in str(caught.value)


async def test_http_a_non_ascii_header_value_builds_a_client() -> None:
    ds = http_settings("http://x", {"httpHeaderName1": "X-Team"}, {"httpHeaderValue1": "Ünit"})

    async with http_client(ds) as client:
        assert (b"X-Team", "Ünit".encode()) in client.headers.raw  # UTF-8 bytes, as Go sends


# --- item 7: credential headers reached the logs ---------------------------------------------

TOKEN, COOKIE, ID_TOKEN = "Bearer user-secret-token", "grafana_session=s3ss10n", "eyJ.id.token"


async def test_logs_never_show_credential_headers() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(HclogFormatter())
    logger = logging.getLogger("plugin.hostile")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    plugin = Plugin()

    @plugin.query()
    async def query(query: Query, context: RequestContext) -> Frame:
        logger.info("%s", context.headers)  # way 1
        logger.info("%r", context.headers)  # way 2
        logger.info("headers %s", dict(context.headers))  # way 3
        logger.info("call", extra={"headers": context.headers, "copy": dict(context.headers)})
        logger.info("%s %r", context, context)  # way 5
        logger.info("token %s", context.headers["Authorization"])  # one value, as %s
        logger.info(context.headers.get("X-Id-Token"))  # one value, as the message
        logger.info("%(auth)s", {"auth": context.headers["Authorization"]})  # by name
        assert context.headers["Authorization"] == TOKEN  # still usable as it is
        return Frame("", [Field("ok", [1])])

    @plugin.resource("echo")
    async def echo(request: ResourceRequest) -> ResourceResponse:
        logger.info("%s %r", request.headers, request.headers)
        logger.info("%s", dict(request.headers))
        logger.info("req", extra={"headers": request.headers, "lists": request.headers.as_lists()})
        logger.info("nested", extra={"call": {"auth": {"password": "hunter2", "tries": 3}}})
        return ResourceResponse.text(request.headers["cookie"])

    headers = {"Authorization": TOKEN, "X-Id-Token": ID_TOKEN, "Cookie": COOKIE}
    try:
        async with PluginTestClient(plugin) as client:
            reply = await client.query(target("A"), headers=headers)
            resource = await client.call_resource("GET", "echo", headers=headers)
    finally:
        logger.removeHandler(handler)

    assert reply["A"].error == "" and resource.body == COOKIE.encode()  # values intact
    output = stream.getvalue()
    records = [json.loads(line) for line in output.splitlines()]
    assert len(records) == 12
    assert [record["@message"] for record in records[5:8]] == [
        "token <redacted>",
        "<redacted>",
        "<redacted>",
    ]
    for secret in (TOKEN, "user-secret-token", COOKIE, "s3ss10n", ID_TOKEN, "hunter2"):
        assert secret not in output
    assert output.count("<redacted>") >= 20
    assert records[-1]["call"] == {"auth": {"password": "<redacted>", "tries": "3"}}


# --- item 16: macros ----------------------------------------------------------------------


def _query() -> Query:
    start = NOW * 1000
    return Query(ref_id="M", time_range=TimeRange.from_epoch_ms(start - 3_600_000, start))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("$__timeGroup(time, 99999999999d)", "duration '99999999999d' is too long"),
        ("$__timeGroup(time, " + "9" * 400 + "s)", "is too long"),
    ],
)
def test_macros_overflowing_durations_name_the_macro(text: str, problem: str) -> None:
    with pytest.raises(QueryError) as caught:
        expand_macros(text, _query())

    assert caught.value.ref_id == "M"
    assert "$__timeGroup" in str(caught.value) and problem in str(caught.value)


def test_macros_a_too_long_min_interval_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="invalid interval: duration '9999999999w' is too long"):
        expand_macros("$__interval", _query(), min_interval="9999999999w")


@pytest.mark.parametrize(
    "failure", [KeyError("x"), TypeError("bad"), ZeroDivisionError("division by zero")]
)
def test_macros_a_custom_macro_raising_anything_is_named(failure: Exception) -> None:
    def broken(context: MacroContext, arguments: list[str]) -> str:
        raise failure

    with pytest.raises(QueryError) as caught:
        expand_macros("SELECT $__tenant()", _query(), macros={"tenant": broken})

    assert str(caught.value).startswith(
        f"cannot expand macros: $__tenant failed: {type(failure).__name__}"
    )


def test_macros_a_custom_macro_returning_no_text_is_named() -> None:
    def wrong(context: MacroContext, arguments: list[str]) -> str:
        return 42  # type: ignore[return-value]

    with pytest.raises(QueryError, match=r"\$__tenant failed: TypeError: a macro must return text"):
        expand_macros("$__tenant", _query(), macros={"tenant": wrong})


def test_timeutil_times_beyond_the_calendar_are_value_errors() -> None:
    from plutono_plugin.timeutil import parse_time

    with pytest.raises(ValueError, match="outside the years 1 to 9999"):
        parse_time("now-9999999999999d")
    assert timedelta(0) < timedelta(days=1)
