"""SQL datasource over an embedded SQLite database: macros, time series, tables, annotations.

Datasource settings (:class:`SQLOptions`, shown on the generated settings page):

* ``path``: the SQLite file. Created with sample data on first use when it does not exist;
  default ``<temp dir>/plutono-sql-example-<uid>/<datasource id>.sqlite``, in a directory
  private to the plugin's user (0700; a symlink or a directory of another user is refused).
  An explicit path must resolve inside the database root (:data:`ROOT_VARIABLE`).
* ``timeInterval``: the minimum interval (``"10s"``, ``">1m"``), as Plutono's SQL datasources
  call it; default 1 ms.
* ``rowLimit``: the most rows a query returns (default 10,000); more are cut with a warning.
* ``byteLimitMib``: the most row data a query may fetch (default 64 MiB), counted while rows
  are fetched; more are cut with a warning, and no single value may be larger.
* ``timeout``: seconds a query may run (default 30); a query is also interrupted as soon as
  its call is cancelled or its deadline passes.

Query JSON: ``{"rawSql": "SELECT ...", "format": "time_series" | "table" | "annotations",
"fill": "null" | "previous" | "value", "fillValue": 0}``. ``rawSql`` may use the macros of
:mod:`plutono_plugin.macros`; times are epoch seconds in the sample tables. ``time_series``
needs a ``time`` column; string columns become labels (the frame is made wide, so alerting
works); ``annotations`` needs ``time`` and reads ``timeEnd``, ``title``, ``text``, ``tags``.

Queries are read-only by construction: the file is opened read-only (``mode=ro``), and an
authorizer allows only reading statements (no ``ATTACH``, ``VACUUM [INTO]``, writing pragmas,
extension loading or ``fts3_tokenizer``). They run in a worker thread, never blocking the
other queries.

Sample tables: ``metrics(time, host, region, cpu, mem)`` with one row per host and minute over
the two days before the database was created and the hour after, and ``events(time, timeEnd,
title, text, tags)`` with a deploy every six hours.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sqlite3
import stat
import sys
import tempfile
import threading
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
    Notice,
    Plugin,
    Query,
    QueryError,
    RequestContext,
)
from plutono_plugin.frame.annotations import annotations_frame
from plutono_plugin.macros import expand_macros
from plutono_plugin.timeutil import parse_duration

MIB = 1024 * 1024


@dataclass
class SQLOptions:
    """The datasource's settings page (``jsonData``)."""

    path: str = field(
        default="", metadata={"label": "Database file", "placeholder": "private per-user file"}
    )
    """SQLite file inside the database root, created with the sample tables if missing;
    relative paths start at the root; empty: a private per-user file."""
    time_interval: str = field(default="1ms", metadata={"label": "Min time interval"})
    """Smallest $__interval, e.g. 10s or >1m."""
    row_limit: int = 10_000
    """Most rows a query returns; more are cut with a warning."""
    byte_limit_mib: int = field(default=64, metadata={"label": "Byte limit (MiB)"})
    """Most row data (MiB) a query may fetch; more are cut with a warning."""
    timeout: float = field(default=30.0, metadata={"label": "Timeout (s)"})
    """Seconds a query may run before it is interrupted."""

    def __post_init__(self) -> None:
        for name in ("row_limit", "byte_limit_mib"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.timeout, int | float) and 0 < self.timeout < math.inf):
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout!r}")
        parse_duration(self.time_interval)  # ValueError naming the text


plugin = Plugin(options=SQLOptions)

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
    # A fresh, unique scratch file: a fixed name beside ``path`` would overwrite (or delete) a
    # file of that name that is not ours, in whatever folder the datasource's path names.
    handle, scratch = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    partial = Path(scratch)
    try:
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
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


# Authorizer action codes a read-only query needs (https://sqlite.org/c3ref/c_alter_table.html):
# everything else (ATTACH, which VACUUM INTO uses too, DETACH, writes, transactions, schema
# changes) is denied, whatever the connection's mode.
_READING = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})
_READ_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo"}
    | {"foreign_key_list", "collation_list", "function_list"}
)
# fts3_tokenizer('simple') returns a native pointer; load_extension loads native code.
_DENIED_FUNCTIONS = frozenset({"fts3_tokenizer", "load_extension"})
_REFUSED_ACTIONS = (
    *("ATTACH", "DETACH", "INSERT", "UPDATE", "DELETE", "TRANSACTION", "SAVEPOINT"),
    *("CREATE TABLE", "CREATE INDEX", "CREATE VIEW", "CREATE TRIGGER", "CREATE VTABLE"),
    *("CREATE TEMP TABLE", "DROP TABLE", "DROP INDEX", "DROP VIEW", "DROP TRIGGER"),
    *("ALTER TABLE", "REINDEX", "ANALYZE"),
)
_ACTION_NAMES = {
    getattr(sqlite3, f"SQLITE_{name.replace(' ', '_')}"): name for name in _REFUSED_ACTIONS
}
_PROGRESS_STEPS = 10_000  # virtual machine instructions between two looks at the clock


class ReadOnlyAuthorizer:
    """SQLite authorizer allowing only reads; remembers what it refused, for the error."""

    def __init__(self) -> None:
        self.refused = ""
        self.denied = False

    def __call__(
        self, action: int, first: str | None, second: str | None, database: str | None, _: Any
    ) -> int:
        """Allow reading statements, harmless functions and informational pragmas."""
        if action in _READING:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and (second or "").lower() not in _DENIED_FUNCTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA and (first or "").lower() in _READ_PRAGMAS:
            return sqlite3.SQLITE_OK
        self.denied = True
        schema_table = first in ("sqlite_master", "sqlite_temp_master")
        if not self.refused and not schema_table:  # CREATE first writes sqlite_master: say CREATE
            if action == sqlite3.SQLITE_FUNCTION:
                self.refused = f"the function {second}()"
            elif action == sqlite3.SQLITE_PRAGMA:
                self.refused = f"PRAGMA {first}"
            elif action == sqlite3.SQLITE_ATTACH:
                self.refused = "ATTACH (or VACUUM)"  # VACUUM [INTO] attaches its target
            else:
                self.refused = _ACTION_NAMES.get(action, f"action {action}")
        return sqlite3.SQLITE_DENY


@dataclass(frozen=True)
class Result:
    """What a query fetched: the columns, the rows, and why they were cut (if they were)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    cut: str = ""


def _row_size(row: tuple[Any, ...]) -> int:
    """Approximate memory of a fetched row (what the byte budget counts)."""
    return sys.getsizeof(row) + sum(sys.getsizeof(value) for value in row)


@dataclass(frozen=True)
class Database:
    """One datasource's database and the bounds of a query on it."""

    path: Path
    row_limit: int
    min_interval: str
    byte_limit: int = 64 * MIB
    timeout: float = 30.0

    def connect(self) -> tuple[sqlite3.Connection, ReadOnlyAuthorizer]:
        """A read-only connection: ``mode=ro``, only reads authorized, no ATTACH, bounded values."""
        uri = f"{self.path.resolve().as_uri()}?mode=ro"  # as_uri escapes '?' and '#'
        connection = sqlite3.connect(uri, uri=True, isolation_level=None)
        connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)  # ATTACH and VACUUM INTO
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, min(self.byte_limit, 1_000_000_000))
        authorizer = ReadOnlyAuthorizer()
        connection.set_authorizer(authorizer)
        return connection, authorizer

    def execute(self, sql: str, stop: threading.Event, limit: int | None = None) -> Result:
        """Run ``sql`` read-only and return at most ``limit + 1`` rows (the row limit's cut).

        Stops with ``sqlite3.OperationalError("interrupted")`` once ``stop`` is set or the
        timeout passes, checked every few thousand SQLite instructions and between rows.
        """
        limit = self.row_limit if limit is None else limit
        deadline = time.monotonic() + self.timeout

        def interrupted() -> bool:
            return stop.is_set() or time.monotonic() > deadline

        connection, authorizer = self.connect()
        connection.set_progress_handler(interrupted, _PROGRESS_STEPS)
        try:
            try:
                cursor = connection.execute(sql)
            except sqlite3.DatabaseError:
                if authorizer.refused or authorizer.denied:
                    what = authorizer.refused or "changing the schema"
                    raise QueryError(
                        f"the datasource is read-only: {what} is not allowed"
                    ) from None
                raise
            columns = [item[0] for item in cursor.description or ()]
            rows: list[tuple[Any, ...]] = []
            used = 0
            for row in cursor:
                if interrupted():
                    raise sqlite3.OperationalError("interrupted")
                used += _row_size(row)
                if used > self.byte_limit:
                    megabytes = self.byte_limit / MIB
                    return Result(
                        columns,
                        rows,
                        f"Results have been limited to {len(rows)} rows: they reached the "
                        f"byte limit of {megabytes:g} MiB; narrow the time range or the query",
                    )
                rows.append(row)
                if len(rows) > limit:
                    break
            return Result(columns, rows)
        finally:
            connection.close()


def private_directory() -> Path:
    """``<temp dir>/plutono-sql-example-<uid>``, created 0700; refused unless it is ours alone.

    A shared, predictable path would let another local user plant a symlink or a database.
    """
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: the temporary directory is the user's own already
        folder = Path(tempfile.gettempdir()) / "plutono-sql-example"
        folder.mkdir(exist_ok=True)
        return folder
    uid = getuid()
    folder = Path(tempfile.gettempdir()) / f"plutono-sql-example-{uid}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    problem = ""
    if stat.S_ISLNK(info.st_mode):
        problem = "is a symbolic link"
    elif not stat.S_ISDIR(info.st_mode):
        problem = "is not a directory"
    elif info.st_uid != uid:
        problem = f"belongs to uid {info.st_uid}, not to the plugin's user (uid {uid})"
    elif info.st_mode & 0o077:
        problem = f"is open to other users (mode {stat.S_IMODE(info.st_mode):04o}, not 0700)"
    if problem:
        raise ConfigurationError(
            f"the default database directory {folder} {problem}: remove it, or set the "
            "datasource's database file"
        )
    return folder


def default_database(datasource_id: int) -> Path:
    """The default file of a datasource, in :func:`private_directory`; never a symlink."""
    path = private_directory() / f"{datasource_id}.sqlite"
    if path.is_symlink():
        raise ConfigurationError(f"the default database {path} is a symbolic link: remove it")
    return path


ROOT_VARIABLE = "PL_PLUGIN_DATABASE_ROOT"
"""The folder explicit database paths must stay in: ``database_root`` of the plugin's ini
section, ``[plugin.plutono-sql-example-datasource]``, which Plutono passes as this variable
(contract 1.2, item 1). Only the server's administrator can set it; unset, explicit paths must
stay in :func:`private_directory`."""


def database_root() -> Path:
    """The folder a datasource's ``path`` must resolve into (see :data:`ROOT_VARIABLE`)."""
    configured = os.environ.get(ROOT_VARIABLE, "")
    return Path(configured) if configured else private_directory()


def confined_database(path_setting: str) -> Path:
    """``path_setting`` resolved inside :func:`database_root`, or a ConfigurationError.

    Whoever may edit a datasource (an organisation's Admin) sets ``path``; unconfined, it would
    read any SQLite file the plugin's user can read (Plutono's own ``plutono.db`` with every
    organisation's users included) and create files anywhere that user can write. A relative
    path is taken inside the root; links are followed before the check.
    """
    root = database_root().resolve()
    candidate = Path(path_setting).expanduser()
    resolved = (root / candidate).resolve()  # an absolute candidate replaces the root
    if not resolved.is_relative_to(root):
        raise ConfigurationError(
            f"database file {path_setting!r} is outside the database root {root}: use a path "
            f"inside it, or let the server's administrator set database_root in the plugin's "
            f"ini section (the plugin sees it as {ROOT_VARIABLE})"
        )
    return resolved


@plugin.instance
async def database(settings: DataSourceSettings, options: SQLOptions) -> AsyncIterator[Database]:
    """Open (and on first use create) the datasource's database."""
    if options.path:
        path = await anyio.to_thread.run_sync(confined_database, options.path)
    else:
        path = await anyio.to_thread.run_sync(default_database, settings.id)
    if not await anyio.Path(path).exists():
        await anyio.to_thread.run_sync(create_sample_database, path)
    yield Database(
        path,
        options.row_limit,
        options.time_interval,
        byte_limit=options.byte_limit_mib * MIB,
        timeout=options.timeout,
    )


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


async def run_query(db: Database, sql: str, limit: int | None = None) -> Result:
    """Run ``sql`` in a worker thread; stop it as soon as the call is cancelled (or times out).

    The thread is abandoned at once when the call is cancelled (its deadline passed, the user
    left); ``stop`` makes SQLite interrupt the statement within a few thousand instructions, so
    no thread keeps running a query nobody waits for.
    """
    stop = threading.Event()
    try:
        return await anyio.to_thread.run_sync(db.execute, sql, stop, limit, abandon_on_cancel=True)
    except sqlite3.OperationalError as error:
        if str(error) == "interrupted":
            raise QueryError(f"the query ran longer than the timeout ({db.timeout:g} s)") from None
        raise QueryError(f"SQL error: {error}") from None
    except sqlite3.DataError as error:  # SQLITE_LIMIT_LENGTH: no value above the byte limit
        raise QueryError(
            f"SQL error: {error} (the byte limit is {db.byte_limit / MIB:g} MiB)"
        ) from None
    except sqlite3.Error as error:
        raise QueryError(f"SQL error: {error}") from None
    finally:
        stop.set()


async def _run(db: Database, sql: str) -> Frame:
    result = await run_query(db, sql)
    time_columns = [name for name in ("time", "timeEnd") if name in result.columns]
    # One row more than the limit was fetched: from_rows cuts it and adds a warning. Up to the
    # byte limit of rows: converted in the worker thread too, off the event loop.
    frame = await anyio.to_thread.run_sync(
        functools.partial(
            Frame.from_rows,
            result.rows,
            columns=result.columns,
            time_columns=time_columns,
            limit=db.row_limit,
        )
    )
    notices = list(frame.meta.notices if frame.meta else ())
    if result.cut:
        notices.append(Notice(result.cut, severity="warning"))
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
        result = await run_query(db, "SELECT count(*) FROM metrics", 1)
    except QueryError as error:
        return HealthResult.error(f"cannot read the database: {error}")
    return HealthResult.ok(f"database {db.path} has {result.rows[0][0]} metric rows")


if __name__ == "__main__":
    plugin.run()
