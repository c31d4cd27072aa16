"""What the generated editors show: the schema taken from options types and query routes."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import annotated_types
import pydantic
import pytest

from plutono_plugin import ConfigurationError, Plugin, Query, Secret
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
    descriptions = [query_type["description"] for query_type in schema["queryTypes"]]
    assert len(set(descriptions)) == len(descriptions)  # each type says what it does
    assert (options["maxPoints"]["min"], "max" not in options["maxPoints"]) == (0, True)
    slow = by_key(types["slow"]["fields"])
    assert list(slow) == ["amplitude", "labels", "durationMs"]
    assert (slow["durationMs"]["kind"], slow["durationMs"]["default"]) == ("integer", 0)
    assert (slow["durationMs"]["min"], slow["durationMs"]["max"]) == (0, 60_000)
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


# SystemJS 0.20.19's esmRegEx (src/instantiate.js): a match makes it an ES module, which
# Plutono cannot load (no transpiler, spec 8.1). Comments and strings are not stripped first.
ESM = re.compile(
    r"""(^\s*|[}\);\n]\s*)(import\s*(['"]|(\*\s+as\s+)?(?!type)([^"'\(\)\n; ]+)"""
    r"""\s*from\s*['"]|\{)|export\s+\*\s+from\s+["']|"""
    r"""export\s*(\{|default|function|class|var|const|let|async\s+function))"""
)


def test_the_module_is_amd_for_systemjs_never_an_es_module() -> None:
    module = render_module(frontend_schema(load_example().plugin))
    assert module.split("*/", 1)[1].lstrip().startswith("define([")
    assert ESM.search(module) is None
    assert ESM.search("x;\nexport default 1") is not None  # the pattern does find ES modules


@dataclass
class Declared:
    fill: Literal["null", "value"] = "null"
    fill_value: float = field(
        default=0.0, metadata={"show_when": {"fill": "value"}, "min": -1, "max": 1}
    )
    sql: str = field(default="SELECT 1", metadata={"kind": "code", "annotation": "SELECT 2"})
    notes: dict[str, str] = field(default_factory=dict, metadata={"kind": "multiline"})
    table: str = field(default="", metadata={"choices_from": "tables"})
    limit: Annotated[int, annotated_types.Gt(0)] = 10


def test_field_metadata_declares_editors_visibility_choices_and_bounds() -> None:
    plugin = Plugin()

    @plugin.query("q")
    async def handler(model: Declared) -> None:
        return None

    fields = by_key(frontend_schema(plugin)["queryTypes"][0]["fields"])
    assert fields["fillValue"]["showWhen"] == {"key": "fill", "values": ["value"]}
    assert (fields["fillValue"]["min"], fields["fillValue"]["max"]) == (-1, 1)
    assert (fields["sql"]["lines"], fields["sql"]["code"], fields["sql"]["kind"]) == (
        6,
        True,
        "text",
    )
    assert fields["sql"]["annotation"] == "SELECT 2"
    assert (fields["notes"]["lines"], fields["notes"]["code"]) == (3, False)
    assert (fields["table"]["kind"], fields["table"]["choicesFrom"]) == ("select", "tables")
    assert (fields["limit"]["kind"], fields["limit"]["min"]) == ("integer", 1)  # gt 0 on an int


class PydanticBounded(pydantic.BaseModel):
    points: int = pydantic.Field(10, ge=1, le=500)
    ratio: float = pydantic.Field(0.5, gt=0, lt=1)


def test_pydantic_constraints_become_bounds() -> None:
    plugin = Plugin(options=PydanticBounded)
    fields = by_key(frontend_schema(plugin)["options"])
    assert (fields["points"]["min"], fields["points"]["max"]) == (1, 500)
    assert fields["ratio"] == {**fields["ratio"], "min": 0, "max": 1, "minExclusive": True}
    assert fields["ratio"]["maxExclusive"] is True


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"kind": "code"}, "use 'multiline' or 'code' on a str, dict or list field"),
        ({"kind": "fancy"}, "metadata kind 'fancy'"),
        ({"show_when": {"nope": 1}}, "names 'nope', which is not a field of the model"),
        ({"choices_from": "/tables"}, "without a leading /"),
    ],
)
def test_metadata_that_does_not_fit_the_field_is_refused_naming_it(
    metadata: dict[str, Any], problem: str
) -> None:
    @dataclass
    class Bad:
        count: int = field(default=0, metadata=metadata)

    with pytest.raises(ConfigurationError, match=re.escape(problem)) as caught:
        frontend_schema(Plugin(options=Bad))
    assert "field 'count'" in str(caught.value)
