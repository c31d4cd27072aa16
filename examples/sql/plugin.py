"""SQL datasource over an embedded SQLite database: macros, time series, tables, annotations.

Datasource settings (``jsonData``):

* ``path``: the SQLite file. Created with sample data on first use when it does not exist;
  default ``<temp dir>/plutono-sql-example/<datasource id>.sqlite``.
* ``timeInterval``: the minimum interval (``"10s"``, ``">1m"``), as Plutono's SQL datasources
  call it; default 1 ms.
* ``rowLimit``: the most rows a query returns (default 10,000); more are cut with a warning.

Query JSON: ``{"rawSql": "SELECT ...", "format": "time_series" | "table" | "annotations",
"fill": "null" | "previous" | "value", "fillValue": 0}``. ``rawSql`` may use the macros of
:mod:`plutono_plugin.macros`; times are epoch seconds in the sample tables. ``time_series``
needs a ``time`` column; string columns become labels (the frame is made wide, so alerting
works); ``annotations`` needs ``time`` and reads ``timeEnd``, ``title``, ``text``, ``tags``.
Queries run read-only, in a worker thread, never blocking the other queries.

Sample tables: ``metrics(time, host, region, cpu, mem)`` with one row per host and minute over
the two days before the database was created and the hour after, and ``events(time, timeEnd,
title, text, tags)`` with a deploy every six hours.
"""

from __future__ import annotations

import math
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio

from plutono_plugin import (
    ConfigurationError,
    DataSourceSettings,
    Frame,
    FrameMeta,
    HealthResult,
    Plugin,
    Query,
    QueryError,
    RequestContext,
)
from plutono_plugin.frame.annotations import annotations_frame
from plutono_plugin.macros import expand_macros

plugin = Plugin()

DEFAULT_SQL = (
    "SELECT $__timeGroup(time, $__interval) AS time, host, avg(cpu) AS cpu\n"
    "FROM metrics WHERE $__timeFilter(time)\n"
    "GROUP BY 1, 2 ORDER BY 1"
)
HOSTS = (("web-1", "eu"), ("web-2", "eu"), ("db-1", "us"))


def sample_cpu(epoch_seconds: int, host_number: int) -> float:
    """The sample data's cpu of host ``host_number`` at a time (tests recompute it)."""
    return round(50 + 40 * math.sin(epoch_seconds / 3600 + host_number), 3)


def create_sample_database(path: Path, now: int | None = None) -> None:
    """Write the sample tables into a new SQLite file at ``path`` (atomically)."""
    now = int(time.time()) // 60 * 60 if now is None else now
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with sqlite3.connect(partial) as connection:
        connection.execute(
            "CREATE TABLE metrics (time INTEGER, host TEXT, region TEXT, cpu REAL, mem REAL)"
        )
        connection.execute("CREATE INDEX metrics_time ON metrics (time)")
        rows = [
            (t, host, region, sample_cpu(t, number), 1000.0 + number * 100 + (t // 60) % 50)
            for t in range(now - 2 * 86_400, now + 3_600, 60)
            for number, (host, region) in enumerate(HOSTS)
        ]
        connection.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", rows)
        connection.execute(
            'CREATE TABLE events (time INTEGER, "timeEnd" INTEGER, title TEXT, text TEXT, '
            "tags TEXT)"
        )
        events = [
            (t, t + 600, "deploy", f"release {i}", "deploy,web")
            for i, t in enumerate(range(now - 2 * 86_400, now, 6 * 3_600))
        ]
        connection.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", events)
    connection.close()
    partial.replace(path)


@dataclass(frozen=True)
class Database:
    """One datasource's database: where it is and how many rows a query may return."""

    path: Path
    row_limit: int
    min_interval: str

    def execute(self, sql: str, limit: int) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run ``sql`` read-only; return the columns and at most ``limit + 1`` rows."""
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        connection = sqlite3.connect(uri, uri=True)
        try:
            cursor = connection.execute(sql)
            columns = [item[0] for item in cursor.description or ()]
            return columns, cursor.fetchmany(limit + 1)
        finally:
            connection.close()


@plugin.instance
async def database(settings: DataSourceSettings) -> AsyncIterator[Database]:
    """Open (and on first use create) the datasource's database."""
    json_data = settings.json_data
    default = f"{tempfile.gettempdir()}/plutono-sql-example/{settings.id}.sqlite"
    path = anyio.Path(str(json_data.get("path") or default))
    path = await path.expanduser()
    row_limit = json_data.get("rowLimit", 10_000)
    if isinstance(row_limit, bool) or not isinstance(row_limit, int) or row_limit < 1:
        raise ConfigurationError(f"jsonData.rowLimit must be a positive integer, got {row_limit!r}")
    if not await path.exists():
        await anyio.to_thread.run_sync(create_sample_database, Path(path))
    yield Database(Path(path), row_limit, str(json_data.get("timeInterval") or "1ms"))


@dataclass
class SQLQuery:
    """The query editor's JSON (field metadata: docs/frontend.md)."""

    raw_sql: str = field(
        default=DEFAULT_SQL,
        metadata={
            "label": "SQL",
            "kind": "code",
            "annotation": 'SELECT time, "timeEnd", title, text, tags FROM events\n'
            "WHERE $__timeFilter(time) ORDER BY time",
        },
    )
    """The query; macros such as $__timeFilter(time) and $__interval are expanded."""
    format: Literal["time_series", "table", "annotations"] = field(
        default="time_series", metadata={"annotation": "annotations"}
    )
    """time_series needs a time column; annotations reads time, timeEnd, title, text, tags."""
    fill: Literal["null", "previous", "value"] = "null"
    """What a missing point of a time series becomes."""
    fill_value: float = field(default=0.0, metadata={"show_when": {"fill": "value"}})
    """The value of missing points when fill is "value"."""


def _database(context: RequestContext) -> Database:
    if not isinstance(context.instance, Database):
        raise QueryError("this datasource has no database (the call carries no datasource)")
    return context.instance


async def _run(db: Database, sql: str) -> Frame:
    try:
        columns, rows = await anyio.to_thread.run_sync(db.execute, sql, db.row_limit)
    except sqlite3.Error as error:
        raise QueryError(f"SQL error: {error}") from None
    time_columns = [name for name in ("time", "timeEnd") if name in columns]
    frame = Frame.from_rows(
        rows, columns=columns, time_columns=time_columns, limit=db.row_limit
    )  # one row more than the limit was fetched: from_rows cuts it and adds a warning
    notices = frame.meta.notices if frame.meta else ()
    frame.meta = FrameMeta(executed_query_string=sql, notices=notices)
    return frame


@plugin.query()
async def sql_query(query: Query, model: SQLQuery, context: RequestContext) -> Frame:
    """Every query type: expand the macros, run the SQL, shape the rows as the chosen format."""
    db = _database(context)
    sql = expand_macros(model.raw_sql or DEFAULT_SQL, query, min_interval=db.min_interval)
    frame = await _run(db, sql)
    frame.name = query.ref_id
    if model.format == "table":
        return frame
    if model.format == "annotations":
        events = [
            dict(zip([f.name for f in frame.fields], row, strict=True)) for row in _rows(frame)
        ]
        annotations = annotations_frame(events, ref_id=query.ref_id)
        annotations.meta = frame.meta
        return annotations
    if "time" not in [field.name for field in frame.fields]:
        raise QueryError("the time_series format needs a column named 'time' (epoch seconds)")
    if frame.time_series_type == "long":
        frame = frame.to_wide(model.fill, model.fill_value)
    elif model.fill != "null":
        frame = frame.fill_missing(model.fill, model.fill_value)
    return frame


def _rows(frame: Frame) -> list[tuple[Any, ...]]:
    return list(zip(*(field.values for field in frame.fields), strict=True))


@plugin.check_health
async def health(context: RequestContext) -> HealthResult:
    """ "Save & Test": the database opens and its metrics table can be read."""
    try:
        db = _database(context)
        _, rows = await anyio.to_thread.run_sync(db.execute, "SELECT count(*) FROM metrics", 1)
    except (QueryError, sqlite3.Error) as error:
        return HealthResult.error(f"cannot read the database: {error}")
    return HealthResult.ok(f"database {db.path} has {rows[0][0]} metric rows")


if __name__ == "__main__":
    plugin.run()
