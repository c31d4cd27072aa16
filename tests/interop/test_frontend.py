"""The generated module.js in its real peers: SystemJS, React 17, @grafana/* 7.5.17, jsdom.

``tests/interop/frontend/drive.js`` loads a built plugin's ``module.js`` as Plutono's frontend
does (the @grafana packages registered as ``@credativ/plutono-*``), renders its editors and acts
like a user; these tests check what the editors emit, and send it through the Python side
(the options decoder, the in-memory test client) to prove both ends agree.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from plutono_plugin import DataSourceSettings, PluginContext, Secrets
from plutono_plugin._model import decode_model
from plutono_plugin.options import decode_options
from plutono_plugin.testing import PluginTestClient
from tests._tools import ROOT, load_example, node_package

pytestmark = pytest.mark.node


def run_drive(module: Path, steps: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """Run drive.js on the steps (see drive.js) against ``module``."""
    folder = node_package("frontend")
    scenario = module.parent / f"scenario-{os.getpid()}.json"
    scenario.write_text(json.dumps({"module": str(module), "steps": steps}))
    try:
        result = subprocess.run(
            ["node", "--no-deprecation", "drive.js", str(scenario)],
            cwd=folder,
            env={**os.environ, "NODE_ENV": "production"},
            capture_output=True,
            text=True,
            timeout=50,
            check=False,
        )
    finally:
        scenario.unlink()
    return result


def drive_failure(module: Path, steps: list[dict[str, Any]]) -> str:
    """Run steps that must fail; the error drive.js reported."""
    result = run_drive(module, steps)
    assert result.returncode != 0, result.stdout
    return result.stderr


def drive_report(module: Path, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the steps (see drive.js) against ``module``: one result per step, page reloads."""
    result = run_drive(module, steps)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["problems"] == []  # jsdom saw no error (unhandled exception, ...)
    assert isinstance(report, dict)
    return report


def drive(module: Path, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the steps (see drive.js) against ``module``; one result per step."""
    results: list[dict[str, Any]] = drive_report(module, steps)["results"]
    return results


def events(result: dict[str, Any], name: str) -> list[Any]:
    return [event[name] for event in result["events"] if name in event]


def inputs(result: dict[str, Any]) -> dict[str, Any]:
    return {entry["label"]: entry["value"] for entry in result["result"]["inputs"]}


def test_config_editor_edits_settings_that_the_python_options_decode(
    quickstart_dir: Path, tmp_path: Path
) -> None:
    options = {"id": 7, "name": "dev", "jsonData": {}, "secureJsonFields": {}}
    config, points, fail, unit, key = drive(
        quickstart_dir / "module.js",
        [
            {"do": "config", "options": options},
            {"do": "input", "label": "Max points", "text": "250"},
            {"do": "toggle", "label": "Fail"},
            {"do": "select", "label": "Unit", "option": "percent"},
            {"do": "input", "label": "API key", "text": "s3cr3t"},
        ],
    )
    rendered = config["result"]
    assert [label for label in rendered["labels"] if label] == [
        "Unit",
        "Max points",
        "Fail",
        "API key",
    ]
    assert inputs(config) == {"Unit": "", "Max points": "0", "Fail": False, "API key": ""}
    assert rendered["selected"] == ["(none)"]  # the defaults are shown
    assert events(points, "onOptionsChange") == [{**options, "jsonData": {"maxPoints": 250}}]
    assert events(fail, "onOptionsChange")[-1]["jsonData"] == {"maxPoints": 250, "fail": True}
    assert unit["result"]["selected"] == ["percent"]
    saved = events(key, "onOptionsChange")[-1]
    assert saved["jsonData"] == {"maxPoints": 250, "fail": True, "unit": "percent"}
    assert saved["secureJsonData"] == {"apiKey": "s3cr3t"}
    # What Plutono stores and sends back with every call (contract 2.4.1) decodes in Python.
    settings = DataSourceSettings(
        id=7,
        name="dev",
        raw_json_data=json.dumps(saved["jsonData"]).encode(),
        decrypted_secure_json_data=Secrets(saved["secureJsonData"]),
    )
    example = load_example()
    decoded = decode_options(example.QuickstartOptions, settings)
    assert (decoded.max_points, decoded.fail, decoded.unit) == (250, True, "percent")
    assert decoded.api_key is not None and decoded.api_key.value == "s3cr3t"


def test_a_configured_secret_shows_its_state_and_can_be_reset(quickstart_dir: Path) -> None:
    options = {"id": 7, "jsonData": {"unit": "ms"}, "secureJsonFields": {"apiKey": True}}
    config, reset = drive(
        quickstart_dir / "module.js",
        [{"do": "config", "options": options}, {"do": "reset", "label": "API key"}],
    )
    secret = [entry for entry in config["result"]["inputs"] if entry["value"] == "configured"]
    assert secret and secret[0]["disabled"] is True  # Plutono never sends the value back
    assert "Reset" in config["result"]["buttons"]
    assert config["result"]["selected"] == ["ms"]
    assert events(reset, "onOptionsChange") == [
        {
            **options,
            "secureJsonFields": {"apiKey": False},
            "secureJsonData": {"apiKey": ""},
        }
    ]
    assert "Reset" not in reset["result"]["buttons"]


async def test_query_editor_builds_queries_the_python_models_decode(quickstart_dir: Path) -> None:
    module = quickstart_dir / "module.js"
    editor, chosen, duration, amplitude, labels = drive(
        module,
        [
            {"do": "query", "query": {"refId": "A"}},
            {"do": "select", "label": "Query type", "option": "slow"},
            {"do": "input", "label": "Duration ms", "text": "20"},
            {"do": "input", "label": "Amplitude", "text": "2.5"},
            {"do": "input", "label": "Labels", "text": '{"host": "alpha"}'},
        ],
    )
    assert [label for label in editor["result"]["labels"] if label] == [
        "Query type",
        "Amplitude",
        "Labels",
    ]
    assert editor["result"]["selected"] == ["Default"]
    # A new query is written complete at once (spec 8.8: alerting evaluates the stored target).
    assert events(editor, "onChange") == [{"refId": "A", "amplitude": 1, "labels": {}}]
    assert inputs(editor)["Amplitude"] == "1"
    assert events(chosen, "onChange") == [
        {"refId": "A", "amplitude": 1, "labels": {}, "queryType": "slow", "durationMs": 0}
    ]
    assert events(chosen, "onRunQuery") == [True]
    assert "Duration ms" in chosen["result"]["labels"]
    assert events(duration, "onChange")[-1]["durationMs"] == 20
    assert events(duration, "onRunQuery") == [True]  # on leaving the input
    assert events(amplitude, "onChange")[-1]["amplitude"] == 2.5
    query = events(labels, "onChange")[-1]
    assert query == {
        "refId": "A",
        "queryType": "slow",
        "durationMs": 20,
        "amplitude": 2.5,
        "labels": {"host": "alpha"},
    }
    example = load_example()
    assert decode_model(example.SlowQuery, query) == example.SlowQuery(
        amplitude=2.5, labels={"host": "alpha"}, duration_ms=20
    )
    # The panel runs the edited query with two more: DataSourceWithBackend builds the body.
    (sent,) = drive(
        module,
        [
            {
                "do": "send",
                "targets": [
                    query,
                    {"refId": "B", "queryType": "error", "message": "down: $host"},
                    {"refId": "C", "queryType": "table", "hide": True},
                ],
                "variables": {"host": "alpha"},
            }
        ],
    )
    request = sent["result"]["sent"]
    assert (request["url"], request["method"]) == ("/api/ds/query", "POST")
    queries = request["data"]["queries"]
    assert [q["refId"] for q in queries] == ["A", "B"]  # hidden queries are not sent
    assert queries[1]["message"] == "down: alpha"  # template variables applied
    assert queries[0]["datasourceId"] == 7 and queries[0]["maxDataPoints"] == 500
    # The body the browser posts, through the plugin's real services (contract 2.4.1).
    times = (int(request["data"]["from"]), int(request["data"]["to"]))
    async with PluginTestClient(example.plugin) as client:
        replies = await client.query(*queries, time_range=times)
    frames, error = replies["A"]
    assert error == ""
    values = frames[0].fields[1]
    assert 2.4 < max(values.values) <= 2.5 and values.labels == {"host": "alpha"}
    assert replies["B"] == ([], "down: alpha")


async def test_save_and_test_shows_the_health_message_naming_the_bad_setting(
    quickstart_dir: Path,
) -> None:
    example = load_example()
    bad = DataSourceSettings(id=7, name="dev", raw_json_data=b'{"maxPoints": "lots"}')
    async with PluginTestClient(example.plugin, context=PluginContext(datasource=bad)) as client:
        health = await client.check_health()
    reply = {"status": health.status, "message": health.message}
    (result,) = drive(quickstart_dir / "module.js", [{"do": "health", "reply": reply}])
    assert result["result"]["request"]["url"] == "/api/datasources/7/health"
    assert result["result"]["thrown"] == (
        "datasource 'dev' (id 7): invalid settings: field 'maxPoints': expected int, got str"
    )
    (ok,) = drive(
        quickstart_dir / "module.js",
        [{"do": "health", "reply": {"status": "OK", "message": "fine"}}],
    )
    assert ok["result"]["result"] == {"status": "success", "message": "fine"}


def test_a_new_query_gets_the_first_type_when_there_is_no_default(tmp_path: Path) -> None:
    from plutono_plugin.frontend import render_module

    schema = {
        "pluginType": "datasource",
        "options": [],
        "queryTypes": [
            {"value": "logs", "label": "logs", "description": "", "fields": []},
            {"value": "metrics", "label": "metrics", "description": "", "fields": []},
        ],
        "fallback": None,
    }
    module = tmp_path / "module.js"
    module.write_text(render_module(schema))
    editor, config = drive(
        module,
        [{"do": "query", "query": {"refId": "A"}}, {"do": "config", "options": {"jsonData": {}}}],
    )
    assert events(editor, "onChange") == [{"refId": "A", "queryType": "logs"}]
    assert editor["result"]["selected"] == ["logs"]
    assert "This datasource has no settings." in config["result"]["text"]


def test_an_app_module_loads_and_enables_the_app(healthonly_dir: Path) -> None:
    meta = {"id": "healthonly-app", "name": "Health only", "enabled": False, "jsonData": {}}
    report = drive_report(
        healthonly_dir / "module.js",
        [{"do": "app", "meta": meta}, {"do": "click", "text": "Enable"}],
    )
    page, clicked = report["results"]
    assert "Health only is disabled." in page["result"]["text"]
    assert clicked["requests"] == [
        {
            "url": "/api/plugins/healthonly-app/settings",
            "method": "POST",
            "data": {"enabled": True, "pinned": True, "jsonData": {}},
        }
    ]
    assert len(report["navigations"]) == 1  # then the page reloads, as Plutono's app pages do


def test_the_datasource_is_built_with_its_settings_as_plutono_builds_it(
    quickstart_dir: Path, tmp_path: Path
) -> None:
    # datasource_srv.ts takes `new DataSource(instanceSettings)` only for a one-parameter
    # constructor; any other arity goes through Angular's injector without settings (spec 8.2).
    (built,) = drive(quickstart_dir / "module.js", [{"do": "instantiate"}])
    assert built["result"] == {"arity": 1, "name": "dev", "id": 7, "uid": "ds-uid"}
    # The harness takes the injector path as Plutono does: a class without a constructor fails.
    broken = tmp_path / "module.js"
    generated = (quickstart_dir / "module.js").read_text()
    constructor = r"constructor\(instanceSettings\) \{.*?\n    \}\n"
    broken.write_text(re.sub(constructor, "", generated, count=1, flags=re.S))
    report = drive_failure(broken, [{"do": "instantiate"}])
    assert "Cannot read properties of undefined (reading 'name')" in report


def test_the_hand_written_module_of_the_docs_loads_and_is_built_with_its_settings(
    tmp_path: Path,
) -> None:
    text = (ROOT / "docs" / "frontend.md").read_text(encoding="utf-8")
    (source,) = re.findall(r"```javascript\n(.*?)```", text, flags=re.DOTALL)
    module = tmp_path / "module.js"
    module.write_text(source)
    built, config, _, typed = drive(
        module,
        [
            {"do": "instantiate"},
            {"do": "config", "options": {"jsonData": {}}},
            {"do": "query", "query": {"refId": "A"}},
            {"do": "input", "label": "Query text", "text": "up"},
        ],
    )
    assert built["result"]["arity"] == 1 and built["result"]["name"] == "dev"
    assert "Nothing to configure." in config["result"]["text"]
    assert events(typed, "onChange") == [{"refId": "A", "text": "up"}]


async def test_a_foreign_or_empty_query_becomes_the_default_query(quickstart_dir: Path) -> None:
    # -- Plutono --'s editor leaves queryType 'randomWalk' in a panel's targets; a variable
    # editor hands a string; a wrong-typed value is another plugin's key (spec 8.4).
    module = quickstart_dir / "module.js"
    foreign = {"refId": "A", "queryType": "randomWalk", "scenarioId": "x", "labels": "oops"}
    editor, text, sent = drive(
        module,
        [
            {"do": "query", "query": foreign},
            {"do": "query", "query": ""},
            {"do": "send", "targets": [foreign]},
        ],
    )
    (normalised,) = events(editor, "onChange")
    assert normalised == {"refId": "A", "scenarioId": "x", "labels": {}, "amplitude": 1}
    assert editor["result"]["selected"] == ["Default"]
    assert "Amplitude" in editor["result"]["labels"]
    assert events(text, "onChange") == [{"amplitude": 1, "labels": {}}]
    # A panel runs its queries before a freshly switched editor wrote anything: query() sends
    # the normalised query too.
    (body,) = sent["result"]["sent"]["data"]["queries"]
    assert "queryType" not in body and body["labels"] == {}
    async with PluginTestClient(load_example().plugin) as client:
        replies = await client.query(normalised, body)
    assert replies["A"][1] == ""  # no "no handler for query type 'randomWalk'"


def test_integers_are_digits_only_safe_and_within_bounds_with_the_error_under_the_field(
    quickstart_dir: Path,
) -> None:
    options = {"id": 7, "name": "dev", "jsonData": {}, "secureJsonFields": {}}
    steps: list[dict[str, Any]] = [{"do": "config", "options": options}]
    typed = ["1e21", "9007199254740993", "-1", "1.5", "0x10", "12", ""]
    steps += [{"do": "input", "label": "Max points", "text": text} for text in typed]
    config, *results = drive(quickstart_dir / "module.js", steps)
    assert inputs(config)["Max points"] == "0"
    errors = [result["result"]["errors"] for result in results]
    assert errors == [
        ["Enter a whole number (digits only)"],
        ["Too large: at most 9007199254740991 in magnitude"],
        ["Must be at least 0"],
        ["Enter a whole number (digits only)"],
        ["Enter a whole number (digits only)"],
        [],
        [],
    ]
    changes = [events(result, "onOptionsChange") for result in results]
    assert changes[:5] == [[]] * 5  # nothing invalid is stored
    assert changes[5] == [{**options, "jsonData": {"maxPoints": 12}}]
    assert changes[6] == [options]  # emptied: unset, the Python default applies
    (max_points,) = [i for i in results[6]["result"]["inputs"] if i["label"] == "Max points"]
    assert (max_points["value"], max_points["placeholder"]) == ("", "0")  # the default shows


def test_floats_are_finite_and_slow_durations_bounded(quickstart_dir: Path) -> None:
    steps: list[dict[str, Any]] = [
        {"do": "query", "query": {"refId": "A", "queryType": "slow"}},
        {"do": "input", "label": "Amplitude", "text": "1e400"},
        {"do": "input", "label": "Amplitude", "text": "abc"},
        {"do": "input", "label": "Amplitude", "text": "-2.5e1"},
        {"do": "input", "label": "Duration ms", "text": "60001"},
    ]
    _, infinite, letters, exponent, duration = drive(quickstart_dir / "module.js", steps)
    assert infinite["result"]["errors"] == ["Enter a finite number"]
    assert letters["result"]["errors"] == ["Enter a number"]
    assert exponent["result"]["errors"] == []
    assert events(exponent, "onChange")[-1]["amplitude"] == -25
    assert duration["result"]["errors"] == ["Must be at most 60000"]
    assert events(duration, "onChange") == []


@pytest.fixture(scope="module")
def sql_frontend_dir(request: pytest.FixtureRequest) -> Path:
    """``examples/sql`` built before the first test (``tests/_prebuilt.py``)."""
    from tests._prebuilt import prebuilt

    return prebuilt(request, "sql_frontend_dir")


def test_the_sql_query_is_a_code_editor_and_fill_value_shows_only_for_fill_value(
    sql_frontend_dir: Path,
) -> None:
    editor, fill = drive(
        sql_frontend_dir / "module.js",
        [
            {"do": "query", "query": {"refId": "A"}},
            {"do": "select", "label": "Fill", "option": "value"},
        ],
    )
    example = load_example("sql")
    (query,) = events(editor, "onChange")
    assert query == {
        "refId": "A",
        "rawSql": example.DEFAULT_SQL,
        "format": "time_series",
        "fill": "null",
        "fillValue": 0,
    }
    (sql,) = [entry for entry in editor["result"]["inputs"] if entry["label"] == "SQL"]
    assert (sql["type"], sql["value"]) == ("textarea", example.DEFAULT_SQL)
    assert "Fill value" not in editor["result"]["labels"]
    assert "Fill value" in fill["result"]["labels"]
    assert events(fill, "onChange")[-1]["fill"] == "value"


async def test_sql_annotations_use_the_generated_editor_and_answer_events(
    sql_frontend_dir: Path, tmp_path: Path
) -> None:
    # plugin.json says "annotations": true: the instance has `annotations` (React editor,
    # spec 8.3); a new annotation's target is {refId: 'Anno'} and gets the annotation values.
    module = sql_frontend_dir / "module.js"
    editor, prepared, panel = drive(
        module,
        [
            {"do": "query", "query": {"refId": "Anno"}, "annotation": True},
            {"do": "annotation"},  # an annotation whose editor never ran
            {"do": "query", "query": {"refId": "A"}},
        ],
    )
    (target,) = events(editor, "onChange")
    assert target["format"] == "annotations" and "FROM events" in target["rawSql"]
    assert prepared["result"] == {"annotations": True, "prepared": target}
    assert events(panel, "onChange")[-1]["format"] == "time_series"
    # What annotations_srv sends through query() → /api/ds/query, answered by the plugin.
    example = load_example("sql")
    path = tmp_path / "sample.sqlite"
    example.create_sample_database(path, now=1_600_000_000 // 60 * 60)
    settings = DataSourceSettings(
        id=7, name="sql", raw_json_data=json.dumps({"path": str(path)}).encode()
    )
    async with PluginTestClient(
        example.plugin, context=PluginContext(datasource=settings)
    ) as client:
        replies = await client.query(
            target, time_range=(1_600_000_000_000 - 86_400_000, 1_600_000_000_000)
        )
    frames, error = replies["Anno"]
    assert error == ""
    names = [field.name for field in frames[0].fields]
    assert "time" in names and "text" in names  # what getAnnotationsFromData needs
    assert frames[0].rows >= 1


def test_without_annotations_in_plugin_json_the_instance_has_none(quickstart_dir: Path) -> None:
    (result,) = drive(quickstart_dir / "module.js", [{"do": "annotation"}])
    assert result["result"] == {"annotations": False}


async def test_select_choices_come_from_a_plugin_resource(tmp_path: Path) -> None:
    from plutono_plugin.frontend import frontend_schema, render_module
    from tests.frontend.test_docs import docs_examples, metadata_example

    plugin = metadata_example(docs_examples(tmp_path))
    module = tmp_path / "module.js"
    module.write_text(render_module(frontend_schema(plugin)))
    async with PluginTestClient(plugin) as client:
        stations = (await client.call_resource("GET", "stations")).json()
    query = {"refId": "A", "queryType": "readings"}
    editor, loaded, chosen = drive(
        module,
        [
            {"do": "query", "query": query, "resources": {"stations": stations}},
            {"do": "wait"},
            {"do": "select", "label": "Station", "option": "Munich"},
        ],
    )
    assert editor["requests"] == [{"url": "/api/datasources/7/resources/stations", "method": "GET"}]
    assert loaded["result"]["errors"] == []
    assert events(chosen, "onChange")[-1]["station"] == "muc"
    assert chosen["result"]["selected"] == ["readings", "Munich", "none"]
    (_, waited) = drive(module, [{"do": "query", "query": query, "resources": {}}, {"do": "wait"}])
    assert waited["result"]["errors"] == ["Cannot list station: no resource stations"]


def test_save_and_test_always_shows_a_message(quickstart_dir: Path) -> None:
    # Plutono renders no alert for an empty message, success or not (spec 8.6).
    ok, failed = drive(
        quickstart_dir / "module.js",
        [
            {"do": "health", "reply": {"status": "OK", "message": ""}},
            {"do": "health", "reply": {"status": "ERROR", "message": ""}},
        ],
    )
    assert ok["result"]["result"] == {"status": "success", "message": "The plugin answered OK."}
    assert failed["result"]["thrown"] == "The health check failed and the plugin gave no message."


def test_the_alert_tab_learns_which_targets_hold_template_variables(quickstart_dir: Path) -> None:
    plain, variable, number = drive(
        quickstart_dir / "module.js",
        [
            {"do": "contains", "target": {"refId": "A", "queryType": "error", "message": "x"}},
            {"do": "contains", "target": {"refId": "A", "queryType": "error", "message": "$host"}},
            {"do": "contains", "target": {"refId": "A", "queryType": "sine", "amplitude": 2}},
        ],
    )
    assert [step["result"]["contains"] for step in (plain, variable, number)] == [
        False,
        True,
        False,
    ]
