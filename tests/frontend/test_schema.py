"""What the generated editors show: the schema taken from options types and query routes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic

from plutono_plugin import Plugin, Query, Secret
from plutono_plugin.frontend import frontend_schema, render_module
from tests._tools import load_example


def by_key(fields: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {described["key"]: described for described in fields}


def test_quickstart_schema_has_one_input_per_setting_and_query_field() -> None:
    schema = frontend_schema(load_example().plugin)
    options = by_key(schema["options"])
    assert [described["key"] for described in schema["options"]] == [
        "unit",
        "maxPoints",
        "fail",
        "apiKey",
    ]
    assert options["unit"]["kind"] == "select"
    assert [choice["value"] for choice in options["unit"]["choices"]] == [
        "",
        "percent",
        "ms",
        "short",
    ]
    assert options["unit"]["choices"][0]["label"] == "(none)"
    assert (options["maxPoints"]["kind"], options["maxPoints"]["default"]) == ("integer", 0)
    assert options["maxPoints"]["help"].startswith("Most points per sine series")
    assert options["fail"]["kind"] == "boolean"
    assert (options["apiKey"]["kind"], options["apiKey"]["label"]) == ("secret", "API key")
    types = {query_type["value"]: query_type for query_type in schema["queryTypes"]}
    assert list(types) == ["", "sine", "slow", "error", "table"]
    assert types[""]["label"] == "Default"
    assert types["sine"]["description"] == "A sine wave over the time range."
    slow = by_key(types["slow"]["fields"])
    assert list(slow) == ["amplitude", "labels", "durationMs"]
    assert (slow["durationMs"]["kind"], slow["durationMs"]["default"]) == ("integer", 0)
    assert (slow["amplitude"]["kind"], slow["amplitude"]["default"]) == ("number", 1.0)
    assert (slow["labels"]["kind"], slow["labels"]["default"]) == ("json", {})
    message = by_key(types["error"]["fields"])["message"]
    assert (message["kind"], message["template"]) == ("text", True)
    assert types["table"]["fields"] == []
    assert schema["fallback"] is None


class Level(enum.Enum):
    LOW = 1
    HIGH_ONLY = 2


@dataclass
class Ordered:
    second: str = "b"
    first: int = field(default=1, metadata={"order": -1, "label": "First!", "help": "comes first"})
    level: Level = Level.LOW
    token: Secret | None = None


def test_metadata_overrides_order_labels_and_help_and_enums_become_selects() -> None:
    plugin = Plugin(options=Ordered)
    fields = frontend_schema(plugin)["options"]
    assert [(f["key"], f["label"], f["help"]) for f in fields[:2]] == [
        ("first", "First!", "comes first"),
        ("second", "Second", ""),
    ]
    level = by_key(fields)["level"]
    assert level["choices"] == [{"value": 1, "label": "Low"}, {"value": 2, "label": "High Only"}]
    assert level["default"] == 1
    assert by_key(fields)["token"]["default"] is None


class PydanticQuery(pydantic.BaseModel):
    metric: str = pydantic.Field("cpu", title="Metric name", description="What to fetch")
    mode: Literal["avg", "max"] = "avg"


def test_pydantic_query_models_and_the_fallback_route() -> None:
    plugin = Plugin()

    @plugin.query()
    async def anything(query: Query, model: PydanticQuery) -> None:
        return None

    schema = frontend_schema(plugin)
    assert schema["queryTypes"] == []
    metric, mode = schema["fallback"]["fields"]
    assert (metric["label"], metric["help"], metric["default"]) == (
        "Metric name",
        "What to fetch",
        "cpu",
    )
    assert (mode["kind"], mode["default"]) == ("select", "avg")
    assert schema["options"] == []


@dataclass
class Strange:
    token: Secret | None = None


def test_secret_annotations_in_a_query_model_are_not_secret_inputs() -> None:
    plugin = Plugin()

    @plugin.query("x")
    async def handler(model: Strange) -> None:
        return None

    (field_,) = frontend_schema(plugin)["queryTypes"][0]["fields"]
    assert field_["kind"] == "json"  # secrets live in the datasource settings, not in queries


def test_the_module_embeds_the_schema_and_is_deterministic() -> None:
    schema = frontend_schema(load_example().plugin)
    module = render_module(schema)
    assert module == render_module(frontend_schema(load_example().plugin))
    assert module.startswith("/* module.js of a backend datasource")
    assert "define(['react', '@credativ/plutono-data', '@credativ/plutono-ui'" in module
    assert '"key": "durationMs"' in module and "/*@SCHEMA@*/" not in module
    assert "@grafana" not in module  # Plutono shares its packages under its own names
