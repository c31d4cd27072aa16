"""``examples/sql`` end to end through the real Go host (go-plugin v1.4.0 + SDK v0.88.0).

The database is written before the plugin starts (``create_sample_database`` with a fixed
"now"), so every expected value is recomputed from the same formula; one test lets the plugin
create it on first use. Alert answers are decoded by ``tests/interop/framecheck`` — SDK
v0.88.0's ``UnmarshalArrowFrame`` and the alerting conversion (contract 2.4.2, 4.7).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plutono_plugin.frame import Frame
from tests._prebuilt import prebuilt
from tests._tools import go_binary, load_example
from tests.interop.gohost import GoHost, Query, QueryReply, frames_bytes

pytestmark = pytest.mark.go

SQL_ID = "plutono-sql-example-datasource"
NOW = 1_600_000_000 // 60 * 60  # the sample data's "now", epoch seconds
HOUR_MS = 3_600_000
NOW_MS = NOW * 1000


@pytest.fixture(scope="session")
def sql_dir(request: pytest.FixtureRequest) -> Path:
    """``examples/sql`` built before the first test (``tests/_prebuilt.py``)."""
    return prebuilt(request, "sql_dir")


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "sample.sqlite"
    load_example("sql").create_sample_database(path, now=NOW)
    return path


@pytest.fixture
def sql(go_host: GoHost, sql_dir: Path) -> Iterator[GoHost]:
    reply = go_host.start(sql_dir, SQL_ID)
    assert reply["ok"], reply.get("error")
    yield go_host


def context(path: Path, **json_data: Any) -> dict[str, object]:
    return {
        "org_id": 1,
        "datasource": {"id": 5, "name": "sql", "json_data": {"path": str(path), **json_data}},
    }


def sql_query(raw_sql: str = "", ref_id: str = "A", **model: Any) -> Query:
    return {
        "ref_id": ref_id,
        "json": {"rawSql": raw_sql, **model},
        "from_ms": NOW_MS - HOUR_MS,
        "to_ms": NOW_MS,
        "interval_ms": 60_000,
        "max_data_points": 100,
    }


def frames(reply: QueryReply, ref_id: str = "A") -> list[Frame]:
    assert reply["ok"], reply.get("error")
    response = reply["responses"][ref_id]
    assert response["error"] == "", response["error"]
    return [Frame.decode(raw) for raw in frames_bytes(response)]


def test_time_series_query_with_macros_is_wide_with_host_labels(
    sql: GoHost, sample_db: Path
) -> None:
    reply = sql.query([sql_query()], plugin_context=context(sample_db))  # the default SQL

    [frame] = frames(reply)
    assert frame.time_series_type == "wide"
    assert [(f.name, f.labels) for f in frame.fields] == [
        ("time", None),
        ("cpu", {"host": "db-1"}),
        ("cpu", {"host": "web-1"}),
        ("cpu", {"host": "web-2"}),
    ]
    seconds = [ns // 10**9 for ns in frame.fields[0].values]
    assert seconds == list(range(NOW - 3600, NOW + 1, 60))  # $__timeFilter is inclusive
    example = load_example("sql")
    for field, number in zip(frame.fields[1:], (2, 0, 1), strict=True):
        assert field.values == pytest.approx([example.sample_cpu(t, number) for t in seconds])
    assert frame.meta is not None
    assert f"BETWEEN {NOW - 3600} AND {NOW}" in frame.meta.executed_query_string


def test_alert_query_frames_pass_the_go_decoder_and_alerting(
    sql: GoHost, sample_db: Path, tmp_path: Path
) -> None:
    # What the alert engine sends (contract 2.4.2): refId A, no interval, no maxDataPoints.
    query: Query = {**sql_query(), "interval_ms": 0, "max_data_points": 0}
    reply = sql.query([query], plugin_context=context(sample_db), headers={"FromAlert": "true"})

    assert reply["ok"], reply.get("error")
    [raw] = frames_bytes(reply["responses"]["A"])
    path = tmp_path / "alert.arrow"
    path.write_bytes(raw)
    out = subprocess.run(
        [str(go_binary("framecheck")), str(path)], capture_output=True, text=True, check=True
    )
    [view] = json.loads(out.stdout)
    assert view["error"] is None and view["seriesError"] is None
    assert view["timeSeriesType"] == "wide"
    assert [s["name"] for s in view["series"]] == [
        "cpu {host=db-1}",
        "cpu {host=web-1}",
        "cpu {host=web-2}",
    ]
    # $__interval for an alert: 1 h / 1500 points → 2 s, finer than the data: every minute
    assert {s["points"] for s in view["series"]} == {61}


def test_table_format_keeps_the_columns(sql: GoHost, sample_db: Path) -> None:
    raw_sql = (
        "SELECT time, host, region, cpu, mem FROM metrics "
        "WHERE $__timeFilter(time) AND host = 'web-1' ORDER BY time DESC LIMIT 3"
    )
    reply = sql.query([sql_query(raw_sql, format="table")], plugin_context=context(sample_db))

    [frame] = frames(reply)
    assert [(f.name, str(f.type)) for f in frame.fields] == [
        ("time", "time"),
        ("host", "string"),
        ("region", "string"),
        ("cpu", "float64"),
        ("mem", "float64"),
    ]
    assert frame.field("host").values == ["web-1"] * 3
    assert [t // 10**9 for t in frame.field("time").values] == [NOW, NOW - 60, NOW - 120]


def test_annotations_format(sql: GoHost, sample_db: Path) -> None:
    raw_sql = 'SELECT time, "timeEnd", title, text, tags FROM events WHERE $__timeFilter(time)'
    query: Query = {**sql_query(raw_sql, format="annotations"), "from_ms": NOW_MS - 86_400_000}
    reply = sql.query([query], plugin_context=context(sample_db))

    [frame] = frames(reply)
    assert [f.name for f in frame.fields] == ["time", "timeEnd", "title", "text", "tags"]
    assert frame.rows == 4  # one deploy every six hours
    assert set(frame.field("tags").values) == {"deploy,web"}


def test_bad_macro_and_bad_sql_fail_only_their_query(sql: GoHost, sample_db: Path) -> None:
    reply = sql.query(
        [
            sql_query("SELECT $__timeFiltr(time) FROM metrics", ref_id="MACRO"),
            sql_query("SELECT nope FROM metrics", ref_id="SQL"),
            sql_query("DELETE FROM metrics", ref_id="WRITE"),
            sql_query(ref_id="GOOD"),
        ],
        plugin_context=context(sample_db),
    )

    assert reply["ok"], reply.get("error")
    responses = reply["responses"]
    assert "unknown macro $__timeFiltr" in responses["MACRO"]["error"]
    assert responses["SQL"]["error"] == "SQL error: no such column: nope"
    assert responses["WRITE"]["error"] == "the datasource is read-only: DELETE is not allowed"
    assert len(frames(reply, "GOOD")) == 1


def test_row_limit_cuts_with_a_warning(sql: GoHost, sample_db: Path) -> None:
    reply = sql.query(
        [sql_query("SELECT time, cpu FROM metrics", format="table")],
        plugin_context=context(sample_db, rowLimit=5),
    )

    [frame] = frames(reply)
    assert frame.rows == 5
    assert frame.meta is not None
    [notice] = frame.meta.notices
    assert notice.severity == "warning" and "limited to 5 rows" in notice.text


def test_database_is_created_on_first_use(sql: GoHost, tmp_path: Path) -> None:
    path = tmp_path / "new" / "sample.sqlite"

    health = sql.check_health(context(path))

    assert health["status"] == "OK", health
    assert path.exists()
    assert health["message"] == f"database {path} has {(2 * 86_400 + 3_600) // 60 * 3} metric rows"


# Hardening (issue 17 items 1-3, 10): a hostile query user cannot write, exhaust memory or keep
# a thread busy; the default database lives in a private per-user directory.


def test_queries_cannot_write_attach_or_leak_pointers(
    sql: GoHost, sample_db: Path, tmp_path: Path
) -> None:
    copy, attached = tmp_path / "copy.sqlite", tmp_path / "attached.sqlite"
    reply = sql.query(
        [
            sql_query(f"VACUUM INTO '{copy}'", ref_id="VACUUM"),
            sql_query(f"ATTACH '{attached}' AS x", ref_id="ATTACH"),
            sql_query("SELECT fts3_tokenizer('simple')", ref_id="POINTER", format="table"),
            sql_query("PRAGMA journal_mode=WAL", ref_id="PRAGMA", format="table"),
            sql_query("PRAGMA table_info(metrics)", ref_id="INFO", format="table"),
        ],
        plugin_context=context(sample_db),
    )

    assert reply["ok"], reply.get("error")
    errors = {ref: response["error"] for ref, response in reply["responses"].items()}
    assert errors["VACUUM"] == "the datasource is read-only: ATTACH (or VACUUM) is not allowed"
    assert errors["ATTACH"] == errors["VACUUM"]
    assert errors["POINTER"] == (
        "the datasource is read-only: the function fts3_tokenizer() is not allowed"
    )
    assert errors["PRAGMA"] == "the datasource is read-only: PRAGMA journal_mode is not allowed"
    assert errors["INFO"] == ""  # reading pragmas still work
    assert not copy.exists() and not attached.exists()


def test_huge_values_and_rows_are_bounded_in_bytes(sql: GoHost, sample_db: Path) -> None:
    reply = sql.query(
        [
            sql_query("SELECT zeroblob(50000000) FROM metrics LIMIT 20", ref_id="BLOB"),
            sql_query(
                "SELECT time, randomblob(100000) AS junk FROM metrics",
                ref_id="ROWS",
                format="table",
            ),
        ],
        plugin_context=context(sample_db, byteLimitMib=4),
    )

    assert reply["ok"], reply.get("error")
    blob = reply["responses"]["BLOB"]["error"]
    assert blob == "SQL error: string or blob too big (the byte limit is 4 MiB)"
    [frame] = frames(reply, "ROWS")
    assert 0 < frame.rows < 50  # 100 kB each: cut well before the 10,000-row limit
    assert frame.meta is not None
    [notice] = frame.meta.notices
    assert notice.severity == "warning" and "byte limit of 4 MiB" in notice.text


ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("how", ["deadline", "cancel"])
def test_abandoned_endless_queries_stop_running(sql: GoHost, sample_db: Path, how: str) -> None:
    timeout_ms, cancel_after_ms = (300, None) if how == "deadline" else (None, 300)
    jobs = [
        sql.query_in_background(
            [sql_query(ENDLESS)],
            plugin_context=context(sample_db),
            timeout_ms=timeout_ms,
            cancel_after_ms=cancel_after_ms,
        )
        for _ in range(4)
    ]
    for job in jobs:
        sql.wait(job)
    time.sleep(1.0)  # the stop reaches SQLite within a few thousand instructions

    before = _cpu_seconds(sql.pid)
    time.sleep(2.0)
    busy = _cpu_seconds(sql.pid) - before

    assert busy < 0.5, f"{busy:.2f} s of CPU in 2 s: a query kept running"  # 4 threads: 8 s
    assert sql.check_health(context(sample_db))["status"] == "OK"


def test_a_query_past_the_datasource_timeout_is_interrupted(sql: GoHost, sample_db: Path) -> None:
    started = time.monotonic()
    reply = sql.query([sql_query(ENDLESS)], plugin_context=context(sample_db, timeout=0.5))

    assert reply["ok"], reply.get("error")
    assert reply["responses"]["A"]["error"] == "the query ran longer than the timeout (0.5 s)"
    assert time.monotonic() - started < 15


def test_default_database_is_private_to_the_plugin_user(
    go_host: GoHost, sql_dir: Path, tmp_path: Path
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    reply = go_host.start(sql_dir, SQL_ID, env={"TMPDIR": str(temp)})
    assert reply["ok"], reply.get("error")
    no_path = {"org_id": 1, "datasource": {"id": 5, "name": "sql", "json_data": {}}}

    health = go_host.check_health(no_path)

    folder = temp / f"plutono-sql-example-{os.getuid()}"
    assert health["status"] == "OK", health
    assert health["message"].startswith(f"database {folder / '5.sqlite'} has ")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_planted_default_directory_is_refused(
    go_host: GoHost, sql_dir: Path, tmp_path: Path
) -> None:
    temp, elsewhere = tmp_path / "tmp", tmp_path / "attacker"
    temp.mkdir()
    elsewhere.mkdir(mode=0o700)
    (temp / f"plutono-sql-example-{os.getuid()}").symlink_to(elsewhere)
    reply = go_host.start(sql_dir, SQL_ID, env={"TMPDIR": str(temp)})
    assert reply["ok"], reply.get("error")
    no_path = {"org_id": 1, "datasource": {"id": 5, "name": "sql", "json_data": {}}}

    health = go_host.check_health(no_path)

    assert health["status"] == "ERROR"
    assert (
        "is a symbolic link: remove it, or set the datasource's database file" in health["message"]
    )
    assert list(elsewhere.iterdir()) == []


def test_settings_are_typed_options(sql: GoHost, sample_db: Path) -> None:
    health = sql.check_health(context(sample_db, rowLimit=1e21))

    assert health["status"] == "ERROR"
    assert "rowLimit" in health["message"] and "expected int, got float" in health["message"]
