"""Query editors in Chromium: panel editor, Explore and annotations (spec 8.3, 8.4, 8.5).

"Run query" and "Refresh" call ``ds.query()`` of the real ``DataSourceWithBackend``, whose
``POST /api/ds/query`` the stand-in server answers through QueryData under the Go host; the
Arrow frames are decoded by the real @grafana/data in the page and drawn as tables.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.actions import (
    add,
    assert_labels_fit,
    assert_no_console_errors,
    changes,
    choose,
    find_option,
    frames,
    js,
    open_harness,
    open_select,
    type_into,
)
from tests.browser.cdp import CDPError, Page
from tests.browser.conftest import NOW, QUICKSTART_ID, SQL_ID
from tests.browser.server import DataSource, StandIn

pytestmark = [pytest.mark.go, pytest.mark.browser]

HOUR_MS = 3_600_000
QUICK_RANGE = {"from": NOW * 1000 - HOUR_MS, "to": NOW * 1000}
SQL_RANGE = {"from": NOW * 1000 - 24 * HOUR_MS, "to": NOW * 1000}
EVENTS_SQL = "SELECT time, timeEnd, title, text, tags FROM events WHERE $__timeFilter(time)"
SINE_FIELDS = ["time", "value"]
TABLE_FIELDS = ["time", "host", "requests", "errors", "latency", "healthy"]


def open_view(
    page: Page, stand_in: StandIn, view: str, ds: DataSource, first: Any, rng: dict[str, int]
) -> None:
    """Open ``harness.open<view>(name, first, range)``: the editor is rendered."""
    open_harness(page, stand_in)
    assert page.evaluate(f"harness.open{view}({js(ds.name)}, {js(first)}, {js(rng)})") is True


def run(page: Page, button: str, scope: str) -> list[dict[str, Any]]:
    """Click ``button`` and wait until the answer of that run is drawn; its frames."""
    before = page.evaluate("harness.runs.length")
    page.click(f'[aria-label="{button}"]')
    try:
        seq = page.wait_for(f"harness.runs.length > {before} && harness.runs.length", timeout=10)
    except CDPError:
        # Explore runs only queries with a truthy field besides refId/key/context (spec 8.4).
        pytest.fail(
            f"{button!r} sent no query; the queries were {page.evaluate('harness.queries')}"
        )
    page.wait_for(f"!!document.querySelector('{scope} .harness-frames[data-seq=\"{seq}\"]')")
    return frames(page, scope)


def error_line(page: Page, scope: str) -> str:
    text: str = page.evaluate(
        f"Array.from(document.querySelectorAll('{scope} .harness-error'))"
        ".map((e) => e.textContent).join()"
    )
    return text


def close_menu(page: Page) -> None:
    page.key("Escape", "Escape", 27)
    page.wait_for("t.options().length === 0")


def test_quickstart_explore_runs_every_query_type(page: Page, stand_in: StandIn) -> None:
    ds = add(stand_in, QUICKSTART_ID)
    open_view(page, stand_in, "Explore", ds, [{"refId": "A"}], QUICK_RANGE)
    types = open_select(page, "^Query type$")
    close_menu(page)
    assert len(types) == 5, types  # "" (default), sine, slow, error, table

    outcomes: dict[str, str] = {}
    for option in types:  # every type is tried; the failures are reported together
        choose(page, "^Query type$", option)
        try:
            drawn = run(page, "Run query", ".harness-explore")
        except pytest.fail.Exception as failure:
            outcomes[option] = str(failure)
            continue
        if re.search("error", option, re.I):
            ok = drawn == [] and "query failed" in error_line(page, ".harness-explore")
        else:
            wanted = TABLE_FIELDS if re.search("table", option, re.I) else SINE_FIELDS
            ok = len(drawn) == 1 and [f["name"] for f in drawn[0]["fields"]] == wanted
            ok = ok and drawn[0]["fields"][0]["length"] > 0
        outcomes[option] = "ok" if ok else f"unexpected frames {drawn}"
    assert outcomes == dict.fromkeys(types, "ok")
    sent = page.evaluate("harness.runs.filter((r) => r.view === 'explore').map((r) => r.targets)")
    assert all("datasource" not in target for targets in sent for target in targets)
    assert_labels_fit(page, ".harness-explore")
    assert_no_console_errors(page)


def test_quickstart_explore_runs_a_new_query_without_any_edit(
    page: Page, stand_in: StandIn
) -> None:
    # Explore runs nothing unless the editor wrote a truthy field (spec 8.4).
    ds = add(stand_in, QUICKSTART_ID)
    open_view(page, stand_in, "Explore", ds, [{"refId": "A"}], QUICK_RANGE)

    [frame] = run(page, "Run query", ".harness-explore")

    assert [f["name"] for f in frame["fields"]] == SINE_FIELDS
    assert_no_console_errors(page)


@pytest.mark.parametrize("plugin_id", [QUICKSTART_ID, SQL_ID])
def test_leftover_query_type_is_normalised_through_on_change(
    page: Page, stand_in: StandIn, plugin_id: str, sample_db: Path
) -> None:
    # The -- Plutono -- editor leaves queryType 'randomWalk' in panels (spec 8.4).
    ds = add(stand_in, plugin_id, path=str(sample_db))
    rng = QUICK_RANGE if plugin_id == QUICKSTART_ID else SQL_RANGE
    open_view(page, stand_in, "Panel", ds, [{"refId": "A", "queryType": "randomWalk"}], rng)

    page.wait_for("harness.changes.some((c) => c.view === 'panel')")
    normalised = changes(page, "panel")[-1]
    assert normalised["refId"] == "A"
    assert normalised.get("queryType", "") != "randomWalk"
    drawn = run(page, "Refresh dashboard", ".harness-panel")
    assert drawn and error_line(page, ".harness-panel") == ""
    assert_no_console_errors(page)


def test_quickstart_panel_on_change_objects_and_frames(page: Page, stand_in: StandIn) -> None:
    ds = add(stand_in, QUICKSTART_ID)
    open_view(page, stand_in, "Panel", ds, [{"refId": "A"}], QUICK_RANGE)

    type_into(page, "^Amplitude$", "2")
    type_into(page, "^Labels$", '{"host": "a"}')
    [frame] = run(page, "Refresh dashboard", ".harness-panel")

    last = changes(page, "panel")[-1]
    assert last["refId"] == "A"
    assert (last["amplitude"], last["labels"]) == (2, {"host": "a"})
    assert frame["refId"] == "A" and frame["fields"][1]["labels"] == {"host": "a"}
    targets = page.evaluate("harness.runs[harness.runs.length - 1].targets")
    assert targets[0]["datasource"] == ds.name  # PanelQueryRunner adds it (spec 8.5)
    assert_labels_fit(page, ".harness-query-row")
    assert_no_console_errors(page)


def test_sql_panel_on_change_objects_and_frames(
    page: Page, stand_in: StandIn, sample_db: Path
) -> None:
    ds = add(stand_in, SQL_ID, path=str(sample_db))
    open_view(page, stand_in, "Panel", ds, [{"refId": "A"}], SQL_RANGE)
    formats = open_select(page, "^Format$")
    close_menu(page)

    sql = "SELECT time, host, mem FROM metrics WHERE $__timeFilter(time) AND host = 'db-1'"
    type_into(page, "sql", sql)
    choose(page, "^Format$", find_option(formats, "table"))
    [frame] = run(page, "Refresh dashboard", ".harness-panel")

    last = changes(page, "panel")[-1]
    assert (last["refId"], last["rawSql"], last["format"]) == ("A", sql, "table")
    assert [f["name"] for f in frame["fields"]] == ["time", "host", "mem"]
    assert frame["fields"][0]["length"] == 24 * 60 + 1  # one row a minute, both ends included
    assert_labels_fit(page, ".harness-query-row")
    assert_no_console_errors(page)


def test_sql_explore_runs_every_format(page: Page, stand_in: StandIn, sample_db: Path) -> None:
    ds = add(stand_in, SQL_ID, path=str(sample_db))
    open_view(page, stand_in, "Explore", ds, [{"refId": "A"}], SQL_RANGE)
    formats = open_select(page, "^Format$")
    close_menu(page)

    choose(page, "^Format$", find_option(formats, "time series"))
    [frame] = run(page, "Run query", ".harness-explore")
    assert [f["name"] for f in frame["fields"]] == ["time", "cpu", "cpu", "cpu"]
    assert {f["labels"].get("host") for f in frame["fields"][1:]} == {"db-1", "web-1", "web-2"}

    choose(page, "^Format$", find_option(formats, "table"))
    [frame] = run(page, "Run query", ".harness-explore")
    assert [f["name"] for f in frame["fields"]] == ["time", "host", "cpu"]

    type_into(page, "sql", EVENTS_SQL)
    choose(page, "^Format$", find_option(formats, "annotations"))
    [frame] = run(page, "Run query", ".harness-explore")
    assert {"time", "timeEnd", "title", "text", "tags"} <= {f["name"] for f in frame["fields"]}
    assert changes(page, "explore")[-1]["rawSql"] == EVENTS_SQL
    assert_labels_fit(page, ".harness-explore")
    assert_no_console_errors(page)


def test_sql_annotations_editor_renders_and_finds_events(
    page: Page, stand_in: StandIn, sample_db: Path
) -> None:
    ds = add(stand_in, SQL_ID, path=str(sample_db))
    annotation = {"name": "deploys", "enable": True, "iconColor": "red"}
    open_view(page, stand_in, "Annotations", ds, annotation, SQL_RANGE)

    # The React editor of spec 8.3 (the instance has `annotations`), not the Angular lookup.
    page.wait_for("!!document.querySelector('.harness-annotations')")
    assert page.evaluate("!!document.querySelector('.harness-angular-annotations')") is False
    status = "document.querySelector('.harness-annotation-status').textContent"
    # A new annotation finds the sample data's events without any edit (1 every 6 h).
    page.wait_for(f"/events \\(from/.test({status})")
    assert page.evaluate(status) == "4 events (from 1 frames)"

    type_into(page, "sql", EVENTS_SQL + " LIMIT 2", ".harness-annotation-editor")
    if page.evaluate("t.control('^Format$', '.harness-annotation-editor')"):
        formats = open_select(page, "^Format$", ".harness-annotation-editor")
        close_menu(page)
        choose(page, "^Format$", find_option(formats, "annotations"), ".harness-annotation-editor")

    page.wait_for(f"{status} === '2 events (from 1 frames)'")
    assert changes(page, "annotations")[-1]["rawSql"] == EVENTS_SQL + " LIMIT 2"
    assert_no_console_errors(page)


def test_hidden_panel_queries_are_not_sent(page: Page, stand_in: StandIn) -> None:
    # Nothing but the datasource's filterQuery drops a hidden query (spec 8.5).
    ds = add(stand_in, QUICKSTART_ID)
    targets = [{"refId": "A"}, {"refId": "B", "hide": True}]
    open_view(page, stand_in, "Panel", ds, targets, QUICK_RANGE)

    drawn = run(page, "Refresh dashboard", ".harness-panel")

    assert [frame["refId"] for frame in drawn] == ["A"]
    [body] = page.evaluate(
        "harness.requests.filter((r) => r.url === 'api/ds/query').map((r) => r.body)"
    )
    assert [query["refId"] for query in body["queries"]] == ["A"]
    assert_no_console_errors(page)
