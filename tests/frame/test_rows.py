"""Database rows → frames (``Frame.from_rows``): cursors, dicts, tuples, converters, the limit."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pytest

from plutono_plugin.errors import FrameError
from plutono_plugin.frame import FieldType, Frame

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NS = 1_704_067_200 * 10**9  # T0 in epoch nanoseconds


@pytest.fixture
def database() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE m (time INTEGER, host TEXT, cpu REAL, note TEXT, raw BLOB)")
    connection.executemany(
        "INSERT INTO m VALUES (?, ?, ?, ?, ?)",
        [(1_704_067_200 + i, f"h{i % 2}", i / 4, None, b"\xffok") for i in range(5)],
    )
    return connection


def test_a_dbapi_cursor_gives_names_types_and_nulls(database: sqlite3.Connection) -> None:
    cursor = database.execute("SELECT time, host, cpu, note, raw FROM m ORDER BY time")

    frame = Frame.from_rows(cursor, "m", time_columns=["time"])

    assert [(f.name, f.type, f.nullable) for f in frame.fields] == [
        ("time", FieldType.TIME, False),
        ("host", FieldType.STRING, False),
        ("cpu", FieldType.FLOAT64, False),
        ("note", FieldType.FLOAT64, True),  # all null: numeric, so alert frames stay numeric
        ("raw", FieldType.STRING, False),
    ]
    assert frame.field("time").values[:2] == [NS, NS + 10**9]  # epoch seconds → time
    assert frame.field("raw").values[0] == "\ufffdok"  # undecodable bytes replaced
    assert frame.meta is None
    assert Frame.decode(frame.encode()) == frame


def test_the_row_limit_cuts_and_says_so(database: sqlite3.Connection) -> None:
    frame = Frame.from_rows(database.execute("SELECT * FROM m"), limit=3)
    assert frame.rows == 3
    assert frame.meta is not None
    [notice] = frame.meta.notices
    assert notice.severity == "warning" and "limited to 3 rows" in notice.text
    exact = Frame.from_rows(database.execute("SELECT * FROM m"), limit=5)
    assert exact.rows == 5 and exact.meta is None


def test_dicts_and_tuples_with_converters() -> None:
    rows = [
        {"day": dt.date(2024, 1, 1), "price": Decimal("1.10"), "at": dt.time(12, 30), "n": None},
        {"day": dt.date(2024, 1, 2), "price": None, "at": dt.time(13, 0), "n": 2},
    ]
    frame = Frame.from_rows(rows)
    assert frame.field("day").type is FieldType.TIME and frame.field("day").values[0] == NS
    assert frame.field("price").values == [1.1, None]
    assert frame.field("at").values == ["12:30:00", "13:00:00"]
    assert frame.field("n").type is FieldType.INT64 and frame.field("n").nullable
    exact = Frame.from_rows(rows, decimal="string", types={"n": "float64"})
    assert exact.field("price").values == ["1.10", None]
    assert exact.field("n").values == [None, 2.0]

    tuples = [("2024-01-01T00:00:00Z", "7"), ("2024-01-01 00:00:01", "8")]
    frame = Frame.from_rows(tuples, columns=["t", "v"], time_columns=["t"], converters={"v": int})
    assert frame.field("t").values == [NS, NS + 10**9]  # naive ISO text is UTC
    assert frame.field("v").values == [7, 8]


def test_empty_results_keep_their_columns(database: sqlite3.Connection) -> None:
    cursor = database.execute("SELECT time, cpu FROM m WHERE 0")
    frame = Frame.from_rows(cursor, time_columns=["time"])
    assert [(f.name, f.type) for f in frame.fields] == [
        ("time", FieldType.TIME),
        ("cpu", FieldType.FLOAT64),
    ]
    assert frame.rows == 0
    frame.check_time_series()  # alerting reads it as "no data"


@pytest.mark.parametrize(
    ("rows", "options", "message"),
    [
        ([(1, 2)], {}, "rows are tuples without a cursor description: pass columns="),
        ([(1, 2), (3,)], {"columns": ["a", "b"]}, "row 1 has 1 values but there are 2 columns"),
        ([{"a": 1}], {"time_columns": ["b"]}, r"no such columns \['b'\]; the columns are \['a'\]"),
        ([{"t": "soon"}], {"time_columns": ["t"]}, "field 't': cannot read 'soon' as an ISO-8601"),
        ([{"v": "x"}], {"converters": {"v": int}}, "field 'v': converter failed: ValueError"),
        ([{"v": object()}], {}, "field 'v': unsupported value"),
        ([{"v": 1}], {"limit": -1}, "limit must be >= 0"),
    ],
)
def test_bad_rows_name_the_problem(
    rows: list[object], options: dict[str, object], message: str
) -> None:
    with pytest.raises(FrameError, match=message):
        Frame.from_rows(rows, **options)  # type: ignore[arg-type]
